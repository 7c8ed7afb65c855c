"""SSD augmentation keeps boxes on their objects: each box is painted into the image with its own
grey level, and after every op the painted region must lie where the op says the box is."""

import numpy as np
import tensorflow as tf

from vision_jax.data import box_augment as A

BOXES = np.array([[0.1, 0.1, 0.4, 0.3], [0.5, 0.55, 0.9, 0.95], [0.6, 0.1, 0.8, 0.3]], np.float32)


def painted(h=80, w=100, boxes=BOXES):
  image = np.zeros((h, w, 3), np.float32)
  for k, (y0, x0, y1, x1) in enumerate(boxes):
    image[int(round(y0 * h)):int(round(y1 * h)), int(round(x0 * w)):int(round(x1 * w))] = (k + 1) / 10
  return tf.constant(image)


def region(image, k):
  """The normalised bounding box of the pixels painted for box k, or None."""
  image = np.asarray(image)[..., 0]
  ys, xs = np.nonzero(np.isclose(image, (k + 1) / 10, atol=0.02))
  if len(ys) == 0:
    return None
  h, w = image.shape
  return np.array([ys.min() / h, xs.min() / w, (ys.max() + 1) / h, (xs.max() + 1) / w])


def assert_boxes_on_regions(image, boxes, valid, tolerance):
  for k in range(len(boxes)):
    if valid[k]:
      np.testing.assert_allclose(region(image, k), boxes[k], atol=tolerance, err_msg=f'box {k}')


def test_sanitize_orders_clips_and_drops_empty_boxes():
  boxes = tf.constant([[0.5, 0.6, 0.1, 0.2], [0.2, 0.2, 0.2, 0.4], [-0.1, 0.0, 0.5, 1.2]])
  out, valid = A.sanitize_boxes(boxes, tf.constant([True, True, True]))
  np.testing.assert_allclose(out, [[0.1, 0.2, 0.5, 0.6], [0.2, 0.2, 0.2, 0.4], [0.0, 0.0, 0.5, 1.0]])
  assert valid.numpy().tolist() == [True, False, True]


def test_expand_moves_boxes_with_the_image():
  for i in range(8):
    key = tf.constant([i, 1], tf.int64)
    image, boxes = A.expand(painted(), tf.constant(BOXES), key, fill=(0.0, 0.0, 0.0), probability=1.0)
    h, w = image.shape[:2]
    assert h >= 80 and w >= 100
    assert_boxes_on_regions(image, boxes.numpy(), [True] * 3, 1.5 / min(h, w))


def test_min_iou_crop_keeps_boxes_whose_centre_stays_and_clips_them():
  kept_total = 0
  for i in range(30):
    key = tf.constant([i, 2], tf.int64)
    image, boxes, valid = A.min_iou_random_crop(painted(), tf.constant(BOXES), tf.constant([True] * 3), key)
    boxes, valid = boxes.numpy(), valid.numpy()
    assert valid.any()
    h, w = image.shape[:2]
    assert_boxes_on_regions(image, boxes, valid, 1.5 / min(h, w))
    assert np.all(boxes[~valid] == 0)
    kept_total += valid.sum()
  assert kept_total < 90  # some crops dropped boxes


def test_flip_mirrors_boxes():
  seen = set()
  for i in range(6):
    image, boxes = A.flip_with_boxes(painted(), tf.constant(BOXES), tf.constant([i, 3], tf.int64))
    assert_boxes_on_regions(image, boxes.numpy(), [True] * 3, 0.02)
    seen.add(bool(np.isclose(boxes.numpy()[0, 1], 0.7)))
  assert seen == {True, False}


def test_photometric_distortion_keeps_range_and_shape():
  image = tf.random.stateless_uniform((20, 30, 3), seed=[0, 0])
  out = A.photometric_distort(image, tf.constant([5, 5], tf.int64))
  assert out.shape == (20, 30, 3) and float(tf.reduce_min(out)) >= 0 and float(tf.reduce_max(out)) <= 1
  assert not np.allclose(out, image)


def test_one_resample_fast_path_equals_expand_crop_then_resize():
  """expand_crop_resize draws the same geometry as expand -> min_iou_random_crop -> resize and
  samples the same pixels, without building the canvas."""
  rng = np.random.default_rng(0)
  smooth = tf.constant(np.cumsum(np.cumsum(rng.uniform(size=(60, 90, 3)), 0), 1).astype(np.float32) / 150 / 90)
  valid = tf.constant([True] * 3)
  fill = (0.4, 0.5, 0.6)
  expanded_and_cropped = 0
  for seed in range(40):
    key = tf.constant([seed, 7], tf.int64)
    fast, fast_boxes, fast_keep = A.expand_crop_resize(smooth, tf.constant(BOXES), valid, key, 48, fill=fill)
    canvas, boxes = A.expand(smooth, tf.constant(BOXES), key, fill=fill)
    cropped, slow_boxes, slow_keep = A.min_iou_random_crop(canvas, boxes, valid, key + 10)
    slow = tf.image.resize(cropped, (48, 48))
    np.testing.assert_array_equal(fast_keep, slow_keep)
    np.testing.assert_allclose(fast_boxes, slow_boxes, atol=1e-6)
    # Identical away from the image's border in the canvas, where the slow path blends image and fill.
    difference = np.abs(np.asarray(fast) - np.asarray(slow)).max(-1)
    assert np.median(difference) < 1e-4 and np.mean(difference > 0.05) < 0.1, seed
    expanded_and_cropped += int(canvas.shape[0] > 60 and cropped.shape[0] < canvas.shape[0])
  assert expanded_and_cropped >= 1  # the seeds exercise both steps together
