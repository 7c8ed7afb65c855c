"""PSNR and SSIM against scikit-image's implementations."""

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vision_jax.evaluation.image_quality import psnr, ssim


def test_psnr_and_ssim_match_scikit_image():
  rng = np.random.default_rng(0)
  targets = rng.uniform(size=(3, 32, 32, 3)).astype(np.float32)
  images = np.clip(targets + rng.normal(scale=[[[[0.02]]], [[[0.1]]], [[[0.3]]]], size=targets.shape), 0, 1)
  images = images.astype(np.float32)
  ours_psnr, ours_ssim = np.asarray(psnr(images, targets)), np.asarray(ssim(images, targets))
  for i in range(3):
    np.testing.assert_allclose(ours_psnr[i], peak_signal_noise_ratio(targets[i], images[i], data_range=1), rtol=1e-4)
    expected = structural_similarity(targets[i], images[i], gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=1, channel_axis=-1)
    np.testing.assert_allclose(ours_ssim[i], expected, atol=1e-4)
  assert ours_ssim[0] > ours_ssim[1] > ours_ssim[2] and ours_psnr[0] > ours_psnr[1] > ours_psnr[2]
  np.testing.assert_allclose(ssim(targets, targets), 1.0, atol=1e-5)
