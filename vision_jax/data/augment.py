"""Image augmentation and preprocessing for tf.data pipelines, as the paper recipes use them.

Every random op is stateless and takes a `key` (shape [2], int64) derived from the seed and
the example's position in the stream, so a resumed run sees exactly the same augmentations.
Images are float32 in [0, 1], HWC.
"""

import tensorflow as tf


def pad_and_random_crop(image: tf.Tensor, padding: int, key: tf.Tensor) -> tf.Tensor:
  """Zero-pads each side by `padding` pixels and crops back to the original size (CIFAR recipe)."""
  h, w, c = image.shape
  padded = tf.image.pad_to_bounding_box(image, padding, padding, h + 2 * padding, w + 2 * padding)
  return tf.image.stateless_random_crop(padded, (h, w, c), seed=key)


def random_flip(image: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
  """Horizontal flip with probability 1/2."""
  return tf.image.stateless_random_flip_left_right(image, seed=key)


def inception_crop(image: tf.Tensor, size: int, key: tf.Tensor, area_range=(0.08, 1.0),
                   aspect_ratio_range=(3 / 4, 4 / 3)) -> tf.Tensor:
  """Random-resized crop (Szegedy et al. 2015): a box covering `area_range` of the image with an
  aspect ratio in `aspect_ratio_range`, resized to size x size. Falls back to the whole image."""
  begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=key,
      area_range=area_range, aspect_ratio_range=aspect_ratio_range, min_object_covered=0.1,
      max_attempts=10, use_image_if_no_bounding_boxes=True)
  crop = tf.slice(image, begin, crop_size)
  return tf.image.resize(crop, (size, size), method='bilinear', antialias=True)


def resize_shorter_side(image: tf.Tensor, size: int) -> tf.Tensor:
  """Resizes so that the shorter side is `size` pixels, keeping the aspect ratio."""
  hw = tf.cast(tf.shape(image)[:2], tf.float32)
  scale = tf.cast(size, tf.float32) / tf.reduce_min(hw)
  new_hw = tf.cast(tf.round(hw * scale), tf.int32)
  return tf.image.resize(image, new_hw, method='bilinear', antialias=True)


def center_crop(image: tf.Tensor, size: int) -> tf.Tensor:
  """The central size x size window."""
  hw = tf.shape(image)[:2]
  top, left = (hw[0] - size) // 2, (hw[1] - size) // 2
  return tf.image.crop_to_bounding_box(image, top, left, size, size)


def resize_and_center_crop(image: tf.Tensor, size: int, crop_fraction: float = 0.875) -> tf.Tensor:
  """ImageNet evaluation: shorter side to size / crop_fraction (256 for 224), then the central crop."""
  return center_crop(resize_shorter_side(image, int(round(size / crop_fraction))), size)


def normalize(image: tf.Tensor, mean, std) -> tf.Tensor:
  """(image - mean) / std per channel; mean and std are scalars or one value per channel."""
  return (image - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)
