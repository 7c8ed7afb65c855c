"""YOLO's tf.data augmentation: mosaic (four images around a junction), a random zoom and shift,
HSV gains and a horizontal flip (Ultralytics' defaults for the v8 design; the YOLOv1 paper's
"random scaling and translations of up to 20%" and exposure/saturation gains).

Every geometric op is one view of a canvas: a window [y0, x0, y1, x1] normalised to the canvas
(it may reach outside: those pixels read as the mean colour), resampled once to the input size.
Boxes follow the window; a box keeps its place if at least 10% of its area stays in view and it is
at least 2 px wide and tall (Ultralytics' box_candidates). Random ops are stateless in `key`.
"""

import tensorflow as tf

from vision_jax.data.box_augment import uniform, resample_window


def hsv_gains(image: tf.Tensor, key: tf.Tensor, gains=(0.015, 0.7, 0.4)) -> tf.Tensor:
  """Hue, saturation and value each multiplied by a random factor in [1 - g, 1 + g] (hue wraps
  around); grey images take the value gain only."""
  r = uniform(key, (3,), -1.0, 1.0) * tf.constant(gains, tf.float32) + 1.0
  image = tf.clip_by_value(image, 0.0, 1.0)
  if image.shape[-1] != 3:
    return tf.clip_by_value(image * r[2], 0.0, 1.0)
  hsv = tf.image.rgb_to_hsv(image)
  hue = tf.math.floormod(hsv[..., 0] * r[0], 1.0)
  return tf.image.hsv_to_rgb(tf.stack([hue, tf.clip_by_value(hsv[..., 1] * r[1], 0.0, 1.0),
                                       tf.clip_by_value(hsv[..., 2] * r[2], 0.0, 1.0)], -1))


def random_view(key: tf.Tensor, scale: float, translate: float, tiles: int = 1) -> tf.Tensor:
  """A window of a canvas `tiles` inputs wide: zoom g ~ U(1 - scale, 1 + scale) (side 1 / g of an
  input), shifted by U(-translate, translate) of the output; on a mosaic canvas (tiles = 2) the
  junction lands anywhere in the middle half of the view, as Ultralytics' random mosaic centre."""
  zoom = uniform(key, (), 1.0 - scale, 1.0 + scale)
  shift = uniform(key + 1, (2,), -translate, translate) / zoom
  if tiles > 1:
    shift += uniform(key + 2, (2,), -0.5, 0.5)
  centre = (tiles / 2 + shift) / tiles
  half = 0.5 / zoom / tiles
  return tf.concat([centre - half, centre + half], 0)


def boxes_in_view(boxes: tf.Tensor, valid: tf.Tensor, window: tf.Tensor, size: int,
                  min_visible: float = 0.1, min_pixels: float = 2.0) -> tuple[tf.Tensor, tf.Tensor]:
  """Canvas-normalised boxes -> view-normalised boxes clipped to it, and which stay valid."""
  extent = tf.concat([window[2:] - window[:2]] * 2, 0)
  moved = (boxes - tf.concat([window[:2]] * 2, 0)) / extent
  clipped = tf.clip_by_value(moved, 0.0, 1.0)
  area = lambda b: tf.maximum(b[:, 2] - b[:, 0], 0) * tf.maximum(b[:, 3] - b[:, 1], 0)  # noqa: E731
  visible = area(clipped) >= min_visible * tf.maximum(area(moved), 1e-12)
  big = tf.reduce_all(clipped[:, 2:] - clipped[:, :2] >= min_pixels / size, -1)
  keep = valid & visible & big
  return tf.where(keep[:, None], clipped, 0.0), keep


def view(image: tf.Tensor, boxes: tf.Tensor, valid: tf.Tensor, window: tf.Tensor, size: int, fill):
  """The window of a square canvas image resampled to size x size, with its boxes."""
  side = tf.cast(tf.shape(image)[0], tf.float32)
  pixels = tf.concat([window[:2] * side, (window[2:] - window[:2]) * side], 0)
  boxes, valid = boxes_in_view(boxes, valid, window, size)
  return resample_window(image, pixels, size, fill), boxes, valid


def align_content(image: tf.Tensor, boxes: tf.Tensor, extent: tf.Tensor, bottom: bool, right: bool):
  """Moves a letterboxed image's content (top-left, `extent` of the side) to the junction's side
  of its mosaic tile: down and/or right, padding moving to the other side."""
  size = tf.shape(image)[0]
  shift = tf.cast(tf.round((1.0 - extent) * tf.cast(size, tf.float32)), tf.int32) * tf.constant([bottom, right], tf.int32)
  moved = tf.cast(shift, tf.float32) / tf.cast(size, tf.float32)
  return tf.roll(image, shift, axis=[0, 1]), boxes + tf.concat([moved, moved], 0)


def mosaic(images: tf.Tensor, boxes: tf.Tensor, extents: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Four (S, S, C) inputs with (4, G, 4) boxes -> one (2S, 2S, C) canvas, each image's content
  touching the centre, and its (4G, 4) boxes normalised to the canvas."""
  placed, placed_boxes = [], []
  for k, (row, col) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
    image, tile_boxes = align_content(images[k], boxes[k], extents[k], bottom=row == 0, right=col == 0)
    placed.append(image)
    offset = tf.constant([row, col, row, col], tf.float32)
    placed_boxes.append((tile_boxes + offset) / 2.0)
  canvas = tf.concat([tf.concat(placed[:2], 1), tf.concat(placed[2:], 1)], 0)
  return canvas, tf.concat(placed_boxes, 0)
