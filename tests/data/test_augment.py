"""Augmentation ops of the paper recipes, on images whose geometry is known."""

import numpy as np
import pytest
import tensorflow as tf

from vision_jax.data import augment

KEY = tf.constant([3, 7], tf.int64)


def ramp(h, w, c=3):
  """Pixel value = its column index / w: crops and flips are readable from the values."""
  return tf.constant(np.broadcast_to((np.arange(w) / w)[None, :, None], (h, w, c)).astype(np.float32))


def test_pad_and_random_crop_is_a_shifted_window_of_the_zero_padded_image():
  image = tf.ones((8, 8, 3))
  crops = [augment.pad_and_random_crop(image, 2, tf.constant([0, i], tf.int64)).numpy() for i in range(20)]
  assert all(c.shape == (8, 8, 3) for c in crops)
  # A window of the padded image: whole rows/columns of zeros at its borders, ones inside.
  for c in crops:
    rows, cols = np.flatnonzero(c[:, :, 0].any(1)), np.flatnonzero(c[:, :, 0].any(0))
    assert c[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].min() == 1.0
    assert 36 <= c[:, :, 0].sum() <= 64
  assert len({c.sum() for c in crops}) > 1  # different offsets for different keys


def test_random_flip_mirrors_columns_or_keeps_the_image():
  image = ramp(4, 6)
  outs = [augment.random_flip(image, tf.constant([0, i], tf.int64)).numpy() for i in range(16)]
  flipped = [np.array_equal(o, image.numpy()[:, ::-1]) for o in outs]
  kept = [np.array_equal(o, image.numpy()) for o in outs]
  assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_inception_crop_returns_the_size_and_a_sub_window():
  image = ramp(60, 80)
  for i in range(10):
    crop = augment.inception_crop(image, 24, tf.constant([1, i], tf.int64)).numpy()
    assert crop.shape == (24, 24, 3)
    assert crop.min() >= -1e-6 and crop.max() <= 79 / 80 + 1e-6
    assert np.all(np.diff(crop[0, :, 0]) >= -1e-6)  # not flipped: columns stay ordered


def test_resize_and_center_crop_keeps_the_aspect_and_the_centre():
  image = ramp(300, 400)
  out = augment.resize_and_center_crop(image, 224, crop_fraction=0.875).numpy()
  assert out.shape == (224, 224, 3)
  # Shorter side 300 -> 256, so 400 -> 341; the central 224 columns span 0.17..0.83 of the width.
  assert out[0, 0, 0] == pytest.approx((341 - 224) / 2 / 341, abs=0.01)
  assert out[0, -1, 0] == pytest.approx(1 - (341 - 224) / 2 / 341, abs=0.01)


def test_normalize_is_per_channel():
  image = tf.fill((2, 2, 3), 0.5)
  out = augment.normalize(image, (0.5, 0.25, 0.0), (1.0, 0.5, 0.25)).numpy()
  np.testing.assert_allclose(out[0, 0], [0.0, 0.5, 2.0])
