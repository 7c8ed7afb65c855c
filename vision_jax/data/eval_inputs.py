"""Model inputs from images, as evaluation sees them: the one preprocessing that the eval pipelines
map over their examples and the predictor (vision_jax/inference) applies to a user's images, so both
give the model identical arrays. Images arrive uint8 (H, W, C) in the source's channels; the
functions are tf ops (usable in tf.data maps and eagerly).
"""

import numpy as np
import tensorflow as tf

from vision_jax.data import augment as aug


def resize_square(image, size: int):
  """Resizes to size x size unless the image already has that size (or size is 0): decoded files
  of that size pass through unchanged."""
  if not size or (image.shape[0] == size and image.shape[1] == size):
    return image
  resized = lambda: tf.image.resize(image, (size, size), antialias=True)  # noqa: E731
  if image.shape[0] is not None and image.shape[1] is not None:
    return resized()
  out = tf.cond(tf.reduce_all(tf.shape(image)[:2] == size), lambda: image, resized)
  out.set_shape((size, size, image.shape[-1]))
  return out


def classification_input(config, size: int):
  """config.dataset's eval preprocessing: uint8 image -> [0, 1] -> 'resize' to size x size or
  'center_crop' (shorter side to size / crop_fraction, the central square) -> normalised."""
  center = config.get('eval_preprocess', 'resize') == 'center_crop'
  mean, std = config.get('mean', 0.5), config.get('std', 0.5)

  def fn(image):
    image = tf.cast(image, tf.float32) / 255.0
    image = aug.resize_and_center_crop(image, size, config.get('crop_fraction', 0.875)) if center else resize_square(image, size)
    return aug.normalize(image, mean, std)
  return fn


def letterbox(image, boxes, size: int, min_max=None):
  """Resizes keeping the aspect ratio and pads the bottom and right to size x size with zeros (the
  mean, once normalised); normalised boxes follow the image. The longer side goes to `size`, or with
  min_max = (min_size, max_size) the shorter side to min_size unless the longer passes max_size
  (R-CNN's resize; never beyond `size`)."""
  shape = tf.cast(tf.shape(image)[:2], tf.float32)
  scale = size / tf.reduce_max(shape)
  if min_max is not None:
    scale = tf.minimum(scale, tf.minimum(min_max[0] / tf.reduce_min(shape), min_max[1] / tf.reduce_max(shape)))
  new = tf.cast(tf.round(shape * scale), tf.int32)
  image = tf.image.resize(image, new)
  fraction = tf.cast(new, tf.float32) / size
  padded = tf.pad(image, [[0, size - new[0]], [0, size - new[1]], [0, 0]])
  return padded, boxes * tf.concat([fraction, fraction], 0), fraction


def resize_with_extent(image, boxes, size: int, mode, mean):
  """(image, boxes, extent) at size x size: 'stretch' (each axis), 'letterbox' or ('min_max',
  min_size, max_size) (aspect kept, padded bottom-right with the mean colour, which normalises to
  0); extent (2,) is the share of the input's height and width that the image fills."""
  kind, *sizes = (mode,) if isinstance(mode, str) else tuple(mode)
  if kind in ('letterbox', 'min_max'):
    fill = tf.constant(np.broadcast_to(mean, (image.shape[-1],)), tf.float32)
    padded, boxes, extent = letterbox(image - fill, boxes, size, tuple(float(v) for v in sizes) if sizes else None)
    return padded + fill, boxes, extent
  return tf.image.resize(image, (size, size)), boxes, tf.ones((2,), tf.float32)


def resize_to_input(image, boxes, size: int, mode, mean):
  """(image, boxes) at size x size as resize_with_extent resizes them."""
  return resize_with_extent(image, boxes, size, mode, mean)[:2]


def detection_input(size: int, resize, mean, std):
  """A detection source's eval preprocessing: uint8 image -> [0, 1] -> resized to the size x size
  input by `resize` ('stretch', 'letterbox', ('min_max', min, max)) -> normalised."""
  mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)

  def fn(image):
    image, _ = resize_to_input(tf.cast(image, tf.float32) / 255.0, tf.zeros((0, 4), tf.float32), size, resize, mean)
    return (image - mean) / std
  return fn
