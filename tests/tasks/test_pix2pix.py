"""pix2pix on the bundled digit domains: the smoke run's scores, its three-row grid, and its refusal of
unpaired data."""

import matplotlib.image
import numpy as np
import pytest

from tests.helpers import load_config, metrics
from vision_jax.data.digit_domains import load_digit_domains
from vision_jax.data.write_layouts import write_image_pairs
from vision_jax.errors import UserError
from vision_jax.tasks import run


def test_digits_smoke_translates_scores_and_draws_input_output_target(tmp_path):
  final = run(load_config('digits_pix2pix'), str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 360
  for key in ('l1', 'psnr', 'ssim', 'translation_accuracy'):
    assert np.isfinite(final[key]), key
  assert 0 < final['l1'] < 1 and -1 <= final['ssim'] <= 1 and 0 <= final['translation_accuracy'] <= 1
  train = metrics(str(tmp_path), 'train')[-1]
  assert {'d_loss', 'g_loss', 'g_adversarial', 'l1', 'd_real', 'd_fake'} <= set(train)
  grid = matplotlib.image.imread(tmp_path / 'samples' / 'step_0000004.png')[..., :3]
  assert grid.shape[:2] == (3 * 32, 16 * 32)  # input, output and true target rows of 16 test pairs
  inputs, targets = grid[:32], grid[64:]
  np.testing.assert_allclose(inputs[..., 0], inputs[..., 2], atol=1 / 255)  # grey domain A
  a, b, _ = load_digit_domains('test')
  np.testing.assert_allclose(targets[:, :32], b[0], atol=1.5 / 255)
  np.testing.assert_allclose(inputs[:, 32:64, 0], a[1, ..., 0], atol=1.5 / 255)
  from vision_jax import inference
  translated = inference.load(str(tmp_path)).predict([np.round(a[0] * 255).astype(np.uint8)])[0]
  assert translated.shape == (32, 32, 3) and translated.dtype == np.uint8
  np.testing.assert_allclose(translated / 255, grid[32:64, :32], atol=3 / 255)   # the grid's output of test A 0


def test_unpaired_data_is_one_clear_error(tmp_path):
  config = load_config('digits_pix2pix')
  config.dataset.name = 'digits'
  with pytest.raises(UserError, match="pix2pix needs paired data: batches with a 'target' image"):
    run(config, str(tmp_path))


def test_256_recipe_smoke_on_pix2pix_style_pair_files(tmp_path):
  """configs/pix2pix.py reads A|B files (pix2pix's dataset layout) and trains end to end."""
  write_image_pairs(str(tmp_path / 'pairs' / 'train'), 'test')
  write_image_pairs(str(tmp_path / 'pairs' / 'val'), 'test')
  config = load_config('pix2pix')
  config.dataset.update({'train_dir': str(tmp_path / 'pairs' / 'train'), 'eval_dir': str(tmp_path / 'pairs' / 'val')})
  full = load_config('pix2pix', None)
  assert (full.dataset.image_size, full.batch_size, full.pix2pix.d_layers, full.pix2pix.l1_weight) == (256, 1, 3, 100.0)
  assert len(full.pix2pix.g_widths) == 8 and full.dataset.augment == 'jitter' and full.dataset.load_size == 286
  final = run(config, str(tmp_path / 'run'))
  assert final['step'] == 4 and final['num_examples'] == 360 and 0 < final['psnr'] < 100
  assert any((tmp_path / 'run' / 'samples').iterdir())
