"""Full-reference image quality, per image, for translations with a true target (pix2pix): PSNR
and SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03), pixels in [0, 1].
SSIM matches skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1) averaged over channels."""

import jax
import jax.numpy as jnp

WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03


def psnr(images: jax.Array, targets: jax.Array) -> jax.Array:
  """(B,) peak signal-to-noise ratio in dB of NHWC images against targets, pixels in [0, 1]."""
  mse = jnp.mean(jnp.square(images - targets), axis=(1, 2, 3))
  return 10.0 * jnp.log10(1.0 / jnp.maximum(mse, 1e-10))


def _gaussian_window() -> jax.Array:
  x = jnp.arange(WINDOW, dtype=jnp.float32) - (WINDOW - 1) / 2
  g = jnp.exp(-x ** 2 / (2 * SIGMA ** 2))
  return g / g.sum()


def _local_mean(x: jax.Array) -> jax.Array:
  """Gaussian-weighted means over 11x11 windows that fit inside the image ('valid'), per channel."""
  g = _gaussian_window()
  b, h, w, c = x.shape
  planes = x.transpose(0, 3, 1, 2).reshape(b * c, h, w, 1)
  kernel = (g[:, None] * g[None, :])[:, :, None, None]
  out = jax.lax.conv_general_dilated(planes, kernel, (1, 1), 'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  return out.reshape(b, c, h - WINDOW + 1, w - WINDOW + 1)


def ssim(images: jax.Array, targets: jax.Array) -> jax.Array:
  """(B,) mean structural similarity of NHWC images against targets, pixels in [0, 1]."""
  c1, c2 = K1 ** 2, K2 ** 2
  mu_x, mu_y = _local_mean(images), _local_mean(targets)
  var_x = _local_mean(images * images) - mu_x ** 2
  var_y = _local_mean(targets * targets) - mu_y ** 2
  cov = _local_mean(images * targets) - mu_x * mu_y
  index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
  return index.mean(axis=(1, 2, 3))
