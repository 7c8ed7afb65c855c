"""YOLO's tf.data augmentation: after mosaic and a random view the boxes still sit on their objects,
HSV gains of zero change nothing, and the mosaic pipeline resumes exactly."""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tests.helpers import load_config
from vision_jax.data import build_detection_source
from vision_jax.data import yolo_augment as Y


def tile_with_objects(rng, size=64, extent=(1.0, 1.0)):
  """A black tile whose content (the top-left `extent`) holds two white rectangles, and their boxes."""
  image = np.zeros((size, size, 3), np.float32)
  boxes = []
  for _ in range(2):
    h, w = rng.integers(8, 20, 2)
    top = rng.integers(0, int(size * extent[0]) - h)
    left = rng.integers(0, int(size * extent[1]) - w)
    image[top:top + h, left:left + w] = 1.0
    boxes.append([top / size, left / size, (top + h) / size, (left + w) / size])
  return image, np.array(boxes, np.float32)


def test_mosaic_and_random_views_keep_every_box_on_its_object():
  rng = np.random.default_rng(0)
  extents = np.array([[1.0, 1.0], [1.0, 0.5], [0.5, 1.0], [0.75, 0.75]], np.float32)
  tiles = [tile_with_objects(rng, extent=e) for e in extents]
  canvas, boxes = Y.mosaic(tf.constant(np.stack([t[0] for t in tiles])), tf.constant(np.stack([t[1] for t in tiles])),
                           tf.constant(extents))
  canvas = canvas.numpy()
  for box in boxes.numpy():   # every object moved with its box onto the canvas
    y0, x0, y1, x1 = np.round(box * 128).astype(int)
    assert canvas[y0:y1, x0:x1].mean() == 1.0
  for seed in range(6):
    window = Y.random_view(tf.constant([seed, 1], tf.int64), 0.5, 0.1, tiles=2)
    image, out_boxes, valid = Y.view(tf.constant(canvas), boxes, tf.ones(8, tf.bool), window, 64, (0.0, 0.0, 0.0))
    image, out_boxes, valid = image.numpy()[..., 0], out_boxes.numpy(), valid.numpy()
    covered = np.zeros_like(image, bool)
    for box in out_boxes[valid]:
      y0, x0, y1, x1 = box * 64
      inner = image[int(np.ceil(y0)) + 1:int(y1) - 1, int(np.ceil(x0)) + 1:int(x1) - 1]
      assert inner.size == 0 or inner.mean() > 0.95
      covered[max(int(y0) - 1, 0):int(np.ceil(y1)) + 1, max(int(x0) - 1, 0):int(np.ceil(x1)) + 1] = True
    white = image > 0.5
    assert (white & covered).sum() >= 0.9 * white.sum()


def test_zero_hsv_gains_leave_the_image_and_value_gain_scales_grey():
  image = tf.random.stateless_uniform((8, 8, 3), seed=[0, 1])
  np.testing.assert_allclose(Y.hsv_gains(image, tf.constant([0, 2], tf.int64), (0.0, 0.0, 0.0)), image, atol=1e-5)
  grey = tf.fill((4, 4, 1), 0.5)
  out = Y.hsv_gains(grey, tf.constant([0, 3], tf.int64), (0.0, 0.0, 0.4)).numpy()
  assert 0.3 <= out[0, 0, 0] <= 0.7 and np.all(out == out[0, 0, 0])


def test_mosaic_pipeline_resumes_at_the_same_batch():
  config = load_config('coco_yolo', 'n,smoke').dataset
  config.image_size = 64
  with tfds.testing.mock_data(num_examples=8):
    batches = build_detection_source(config, 2, 2, seed=3).train_batches()
    third = [next(batches) for _ in range(3)][-1]
    resumed = next(build_detection_source(config, 2, 2, seed=3).train_batches(start_step=2))
  for key in ('image', 'boxes', 'labels', 'box_valid'):
    np.testing.assert_array_equal(third[key], resumed[key])
