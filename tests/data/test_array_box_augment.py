"""The numpy SSD augmentation of the bundled detection data keeps boxes on their objects (each box
painted with its own grey level), chooses ops by the tf.data pipeline's names, and is a pure
function of its seed."""

import numpy as np
import pytest

from tests.data.test_box_augment import BOXES
from vision_jax.data.array_box_augment import ARRAY_OPS, augment_example, augmentation_ops, photometric
from vision_jax.errors import UserError


def painted(only=None, size=100):
  """Box k painted with 1.0 (only box `only`, if given) on a black square, else levels (k + 1) / 10."""
  image = np.zeros((size, size, 1), np.float32)
  for k, (y0, x0, y1, x1) in enumerate(BOXES):
    if only is None or k == only:
      level = 1.0 if only is not None else (k + 1) / 10
      image[int(round(y0 * size)):int(round(y1 * size)), int(round(x0 * size)):int(round(x1 * size))] = level
  return image


def bright_region(image):
  """The normalised bounding box of the pixels above half the painted level."""
  ys, xs = np.nonzero(image[..., 0] > 0.5)
  h, w = image.shape[:2]
  return np.array([ys.min() / h, xs.min() / w, (ys.max() + 1) / h, (xs.max() + 1) / w])


@pytest.mark.parametrize('seed', range(12))
def test_expand_crop_and_flip_move_the_boxes_with_the_pixels(seed):
  for k in range(len(BOXES)):  # one box painted at a time; the geometry depends on the seed only
    image, boxes, valid = augment_example(painted(only=k), BOXES, np.ones(3, bool), np.random.default_rng(seed),
                                          ('expand', 'crop', 'flip'))
    assert image.shape == (100, 100, 1)
    if valid[k] and np.all((boxes[k, 2:] - boxes[k, :2]) * 100 >= 3):  # at least 3 pixels each way
      np.testing.assert_allclose(bright_region(image), boxes[k], atol=0.02, err_msg=f'box {k}, seed {seed}')


def test_photometric_changes_levels_only_and_the_stream_is_reproducible():
  rng = lambda: np.random.default_rng(3)
  a = augment_example(painted(), BOXES, np.ones(3, bool), rng(), augmentation_ops('photometric'), brightness=0.3)
  b = augment_example(painted(), BOXES, np.ones(3, bool), rng(), augmentation_ops('photometric'), brightness=0.3)
  np.testing.assert_array_equal(a[0], b[0])
  np.testing.assert_allclose(a[1], BOXES, rtol=1e-6)
  np.testing.assert_array_equal(a[2], [True] * 3)
  assert not np.allclose(a[0], painted()) and a[0].min() >= 0 and a[0].max() <= 1



def test_value_gain_scales_then_clips_before_the_other_photometric_draws():
  image = np.random.default_rng(1).uniform(0, 1, (8, 8, 1))
  drawn = np.random.default_rng(0)
  gain = drawn.uniform(0.6, 1.4)
  expected = photometric(np.clip(image * gain, 0.0, 1.0), drawn, 0.1, 0.5)
  np.testing.assert_array_equal(photometric(image, np.random.default_rng(0), 0.1, 0.5, value_gain=0.4), expected)
  # without it the stream is the one the demos were measured with
  np.testing.assert_array_equal(photometric(image, np.random.default_rng(0), 0.1, 0.5, value_gain=0.0),
                                photometric(image, np.random.default_rng(0), 0.1, 0.5))


def test_unknown_augmentation_is_one_clear_error():
  with pytest.raises(UserError, match=r"unknown dataset.augment 'mosaic' for this dataset; choose one of: none, flip, photometric"):
    augmentation_ops('mosaic')
  with pytest.raises(UserError, match=r"dataset.augment 'yolo' for this dataset; choose one of: .*ssd_noflip$"):
    augmentation_ops('yolo', ARRAY_OPS)   # tf.data only
