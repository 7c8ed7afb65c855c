"""Box coders, each named by its scheme: how a detector's regression outputs relate to boxes.

- ssd: centre offsets and log size ratios relative to centre-form priors, divided by variances
  (0.1, 0.1, 0.2, 0.2), boxes normalised to the input (Liu et al. 2016).
- rcnn: (dx, dy, dw, dh) relative to reference boxes in pixels, weighted per coordinate (Girshick
  2015; torchvision's BoxCoder): weights (1, 1, 1, 1) for the RPN and RetinaNet, (10, 10, 5, 5) for
  the Fast R-CNN box head. The order is torchvision's, so imported heads need no permutation.
- ltrb: (left, top, right, bottom) distances from a point (anchor-free detectors: YOLOv8, FCOS).
Corner boxes are [ymin, xmin, ymax, xmax]. Decoders clamp log size changes at SIZE_CLIP, so wild
regression outputs give boxes at most 62.5x their reference instead of inf from exp().
"""

import math

import jax.numpy as jnp

from vision_jax.detection.boxes import center_to_corners, corners_to_center

SIZE_CLIP = math.log(1000.0 / 16)  # torchvision's bbox_xform_clip
SSD_VARIANCES = (0.1, 0.1, 0.2, 0.2)
RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
BOX_HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def encode_ssd(boxes: jnp.ndarray, priors: jnp.ndarray, variances=SSD_VARIANCES) -> jnp.ndarray:
  """Corner boxes -> SSD regression targets relative to center-form priors (same leading shape)."""
  box = corners_to_center(boxes)
  box_hw = jnp.maximum(box[..., 2:], 1e-6)  # padding boxes have size 0: keep the log finite
  center = (box[..., :2] - priors[..., :2]) / (priors[..., 2:] * jnp.asarray(variances[:2]))
  size = jnp.log(box_hw / priors[..., 2:]) / jnp.asarray(variances[2:])
  return jnp.concatenate([center, size], axis=-1)


def decode_ssd(offsets: jnp.ndarray, priors: jnp.ndarray, variances=SSD_VARIANCES) -> jnp.ndarray:
  """SSD regression outputs + center-form priors -> corner boxes (inverse of encode_ssd)."""
  center = priors[..., :2] + offsets[..., :2] * jnp.asarray(variances[:2]) * priors[..., 2:]
  size = priors[..., 2:] * jnp.exp(jnp.minimum(offsets[..., 2:] * jnp.asarray(variances[2:]), SIZE_CLIP))
  return center_to_corners(jnp.concatenate([center, size], axis=-1))


def _centres_and_sizes(boxes: jnp.ndarray):
  heights, widths = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
  return boxes[..., 1] + 0.5 * widths, boxes[..., 0] + 0.5 * heights, widths, heights


def encode_rcnn(boxes: jnp.ndarray, references: jnp.ndarray, weights=RPN_WEIGHTS) -> jnp.ndarray:
  """(..., 4) boxes -> (..., 4) deltas (dx, dy, dw, dh) relative to the references (same shape)."""
  wx, wy, ww, wh = weights
  ref_x, ref_y, ref_w, ref_h = _centres_and_sizes(references)
  x, y, w, h = _centres_and_sizes(boxes)
  return jnp.stack([wx * (x - ref_x) / ref_w, wy * (y - ref_y) / ref_h,
                    ww * jnp.log(w / ref_w), wh * jnp.log(h / ref_h)], -1)


def decode_rcnn(deltas: jnp.ndarray, references: jnp.ndarray, weights=RPN_WEIGHTS,
                size_clip: float = SIZE_CLIP) -> jnp.ndarray:
  """(..., 4) deltas (dx, dy, dw, dh) applied to the references -> boxes [ymin, xmin, ymax, xmax]."""
  wx, wy, ww, wh = weights
  ref_x, ref_y, ref_w, ref_h = _centres_and_sizes(references)
  dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
  dw, dh = jnp.minimum(deltas[..., 2] / ww, size_clip), jnp.minimum(deltas[..., 3] / wh, size_clip)
  x, y = dx * ref_w + ref_x, dy * ref_h + ref_y
  half_w, half_h = 0.5 * jnp.exp(dw) * ref_w, 0.5 * jnp.exp(dh) * ref_h
  return jnp.stack([y - half_h, x - half_w, y + half_h, x + half_w], -1)


def encode_ltrb(boxes: jnp.ndarray, points: jnp.ndarray) -> jnp.ndarray:
  """[ymin, xmin, ymax, xmax] boxes and (x, y) points -> (left, top, right, bottom) distances."""
  x, y = points[..., 0], points[..., 1]
  return jnp.stack([x - boxes[..., 1], y - boxes[..., 0], boxes[..., 3] - x, boxes[..., 2] - y], -1)


def decode_ltrb(distances: jnp.ndarray, points: jnp.ndarray) -> jnp.ndarray:
  """(..., 4) (left, top, right, bottom) from (..., 2) (x, y) points -> [ymin, xmin, ymax, xmax]."""
  left, top, right, bottom = jnp.moveaxis(distances, -1, 0)
  x, y = points[..., 0], points[..., 1]
  return jnp.stack([y - top, x - left, y + bottom, x + right], -1)
