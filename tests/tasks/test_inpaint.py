"""The inpainting task: the digits smoke run's scores, grid and checkpoint; the TFDS configs under
mock data (CelebA has no labels and non-square photos); bad hole settings."""

import matplotlib.image
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.helpers import load_config, metrics
from vision_jax.errors import UserError
from vision_jax.tasks import run


def test_digits_smoke_scores_completions_and_writes_the_three_row_grid(tmp_path, smoke_scorer):
  final = run(load_config('digits_inpaint'), smoke_scorer(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 360
  for key in ('inpaint_accuracy', 'masked_accuracy', 'original_accuracy', 'masked_l2', 'meanfill_l2'):
    assert np.isfinite(final[key])
  assert 0 < final['masked_l2'] and 0 < final['meanfill_l2']
  grid = matplotlib.image.imread(tmp_path / 'samples' / 'step_0000004.png')
  assert grid.shape[:2] == (3 * 32, 16 * 32)  # masked, completed, original rows of 16 test digits
  masked, completed, original = grid[:32, :32, 0], grid[32:64, :32, 0], grid[64:, :32, 0]
  outside = np.ones((32, 32), bool)
  outside[10:22, 10:22] = False
  np.testing.assert_allclose(completed[outside], original[outside], atol=1 / 255)
  assert np.ptp(masked[10:22, 10:22]) < 1 / 255  # the hole holds one fill value
  train = metrics(str(tmp_path), 'train')[-1]
  assert {'d_loss', 'g_loss', 'g_adversarial', 'masked_l2'} <= set(train)
  from vision_jax import inference
  digit = np.round(original * 255).astype(np.uint8)
  completed_now = inference.load(str(tmp_path)).predict([digit])[0][..., 0]   # the evaluation's centre hole
  np.testing.assert_array_equal(completed_now[outside], digit[outside])
  np.testing.assert_allclose(completed_now / 255, completed, atol=3 / 255)   # the grid's completion


@pytest.mark.parametrize('spec, shape', [('celeb_a,smoke', (64, 64, 3)), ('cifar10,random,smoke', (32, 32, 3))])
def test_tfds_inpaint_configs_run_under_mock_data(tmp_path, spec, shape):
  config = load_config('tfds_inpaint', spec)
  with tfds.testing.mock_data(num_examples=16):
    final = run(config, str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 16
  assert np.isfinite(final['masked_l2']) and 'inpaint_accuracy' not in final
  grid = matplotlib.image.imread(tmp_path / 'samples' / 'step_0000004.png')
  assert grid.shape[:2] == (3 * shape[0], 16 * shape[1])


@pytest.mark.parametrize('change, message', [
    ({'hole': 32}, r'inpaint.hole must be between 1 and 31 for 32x32 images, got 32'),
    ({'mask': 'ring'}, r"unknown inpaint.mask 'ring'; choose one of: center, random"),
    ({'widths': (8, 16, 32, 64, 64, 64)}, r'needs an image size divisible by 64, got 32'),
])
def test_bad_hole_settings_are_one_clear_error(tmp_path, change, message):
  config = load_config('digits_inpaint')
  config.inpaint.update(change)
  with pytest.raises(UserError, match=message):
    run(config, str(tmp_path))
