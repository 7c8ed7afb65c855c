"""The R-CNN box coder (Girshick 2015; torchvision's BoxCoder): regression targets of boxes
relative to reference boxes (anchors or proposals), weighted per coordinate, with the size
deltas clamped at decode time so exp() cannot overflow.

Boxes are [ymin, xmin, ymax, xmax] in pixels. Deltas keep torchvision's (dx, dy, dw, dh) order, so
heads imported from torchvision need no channel permutation. Weights: (1, 1, 1, 1) for the RPN,
(10, 10, 5, 5) for the box head.
"""

import jax.numpy as jnp

from vision_jax.detection.boxes import SIZE_CLIP

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
BOX_HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def _centres_and_sizes(boxes: jnp.ndarray):
  heights, widths = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
  return boxes[..., 1] + 0.5 * widths, boxes[..., 0] + 0.5 * heights, widths, heights


def encode(boxes: jnp.ndarray, references: jnp.ndarray, weights=RPN_WEIGHTS) -> jnp.ndarray:
  """(..., 4) boxes -> (..., 4) deltas (dx, dy, dw, dh) relative to the references (same shape)."""
  wx, wy, ww, wh = weights
  ref_x, ref_y, ref_w, ref_h = _centres_and_sizes(references)
  x, y, w, h = _centres_and_sizes(boxes)
  return jnp.stack([wx * (x - ref_x) / ref_w, wy * (y - ref_y) / ref_h,
                    ww * jnp.log(w / ref_w), wh * jnp.log(h / ref_h)], -1)


def decode(deltas: jnp.ndarray, references: jnp.ndarray, weights=RPN_WEIGHTS,
           size_clip: float = SIZE_CLIP) -> jnp.ndarray:
  """(..., 4) deltas (dx, dy, dw, dh) applied to the references -> boxes [ymin, xmin, ymax, xmax]."""
  wx, wy, ww, wh = weights
  ref_x, ref_y, ref_w, ref_h = _centres_and_sizes(references)
  dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
  dw, dh = jnp.minimum(deltas[..., 2] / ww, size_clip), jnp.minimum(deltas[..., 3] / wh, size_clip)
  x, y = dx * ref_w + ref_x, dy * ref_h + ref_y
  half_w, half_h = 0.5 * jnp.exp(dw) * ref_w, 0.5 * jnp.exp(dh) * ref_h
  return jnp.stack([y - half_h, x - half_w, y + half_h, x + half_w], -1)
