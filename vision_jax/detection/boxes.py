"""Box geometry: corner/center conversions, pairwise IoU, clipping, and the map between model-input
pixels and an original image resized by stretching, letterboxing or R-CNN's min/max resize.

Corner boxes are [ymin, xmin, ymax, xmax]; center boxes are [cy, cx, h, w]. All functions work on
any leading batch shape and are pure jnp, so they run inside jit and vmap.
"""

import jax.numpy as jnp
import numpy as np


def corners_to_center(boxes: jnp.ndarray) -> jnp.ndarray:
  """[ymin, xmin, ymax, xmax] -> [cy, cx, h, w]."""
  ymin, xmin, ymax, xmax = jnp.moveaxis(boxes, -1, 0)
  return jnp.stack([(ymin + ymax) / 2, (xmin + xmax) / 2, ymax - ymin, xmax - xmin], axis=-1)


def center_to_corners(boxes: jnp.ndarray) -> jnp.ndarray:
  """[cy, cx, h, w] -> [ymin, xmin, ymax, xmax]."""
  cy, cx, h, w = jnp.moveaxis(boxes, -1, 0)
  return jnp.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1)


def _array_module(*arrays):
  """numpy for numpy inputs (host code: data, VOC AP), jax.numpy otherwise (inside jit)."""
  return np if all(isinstance(x, np.ndarray) for x in arrays) else jnp


def area(boxes, pixel_offset: float = 0.0):
  """Area of corner boxes; degenerate boxes (max < min) have area 0. pixel_offset=1 is the VOC
  devkit's integer-pixel convention (a box from pixel 0 to 0 covers one pixel)."""
  xp = _array_module(boxes)
  return (xp.maximum(boxes[..., 2] - boxes[..., 0] + pixel_offset, 0)
          * xp.maximum(boxes[..., 3] - boxes[..., 1] + pixel_offset, 0))


def pairwise_iou(a, b, pixel_offset: float = 0.0):
  """IoU of every box in a (..., N, 4) with every box in b (..., M, 4): (..., N, M); 0 where the
  union is empty. The one IoU of the project: numpy in, numpy out; jnp inside jit."""
  xp = _array_module(a, b)
  top_left = xp.maximum(a[..., :, None, :2], b[..., None, :, :2])
  bottom_right = xp.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
  hw = xp.maximum(bottom_right - top_left + pixel_offset, 0)
  intersection = hw[..., 0] * hw[..., 1]
  union = area(a, pixel_offset)[..., :, None] + area(b, pixel_offset)[..., None, :] - intersection
  return xp.where(union > 0, intersection / xp.where(union > 0, union, 1), 0.0)


def clip(boxes: jnp.ndarray) -> jnp.ndarray:
  """Clips corner boxes to the unit square."""
  return jnp.clip(boxes, 0.0, 1.0)


def clip_to_image(boxes: jnp.ndarray, image_hw: jnp.ndarray) -> jnp.ndarray:
  """Pixel boxes clipped to [0, h] x [0, w] (the image's real size, padding excluded)."""
  limit = jnp.concatenate([image_hw, image_hw]).astype(boxes.dtype)
  return jnp.clip(boxes, 0.0, limit)


RESIZE_MODES = ('stretch', 'letterbox', 'min_max')


def resize_scale(image_hw, input_hw, resize='stretch') -> tuple[float, float]:
  """(sy, sx): model-input pixels per image pixel. 'stretch' resizes each axis to the input size;
  'letterbox' keeps the aspect ratio (one scale) with the image at the top left of a padded input;
  ('min_max', min_size, max_size) is R-CNN's resize (shorter side to min_size unless the longer
  would pass max_size), also at the top left of the padded input (one fixed-size bucket)."""
  mode, *sizes = (resize,) if isinstance(resize, str) else tuple(resize)
  sy, sx = (float(i) / float(o) for i, o in zip(input_hw, image_hw))
  if mode == 'letterbox':
    sy = sx = min(sy, sx)
  elif mode == 'min_max':
    min_size, max_size = sizes
    short, long = float(min(image_hw)), float(max(image_hw))
    sy = sx = min(min_size / short, max_size / long, sy, sx)
  return sy, sx


def to_image_pixels(boxes: np.ndarray, image_hw, input_hw, resize='stretch') -> np.ndarray:
  """Boxes (N, 4) of one image in model-input pixels -> the original image's pixels, clipped."""
  sy, sx = resize_scale(image_hw, input_hw, resize)
  h, w = (float(v) for v in image_hw)
  return np.clip(np.asarray(boxes, np.float64) / np.array([sy, sx, sy, sx]), 0.0, [h, w, h, w])
