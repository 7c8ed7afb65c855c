"""Complete IoU (Zheng et al. 2020), the box-regression measure of YOLOv8's loss: IoU minus the
normalised centre distance and an aspect-ratio consistency term. Boxes are [ymin, xmin, ymax, xmax];
eps follows Ultralytics' bbox_iou (added to heights, the union and the enclosing diagonal), and
the aspect term's weight alpha carries no gradient, as in the paper."""

import math

import jax
import jax.numpy as jnp


def complete_iou(a: jnp.ndarray, b: jnp.ndarray, eps: float = 1e-7) -> jnp.ndarray:
  """Elementwise CIoU of boxes a and b (..., 4) -> (...)."""
  ay1, ax1, ay2, ax2 = jnp.moveaxis(a, -1, 0)
  by1, bx1, by2, bx2 = jnp.moveaxis(b, -1, 0)
  aw, ah = ax2 - ax1, ay2 - ay1 + eps
  bw, bh = bx2 - bx1, by2 - by1 + eps
  inter = (jnp.clip(jnp.minimum(ax2, bx2) - jnp.maximum(ax1, bx1), 0)
           * jnp.clip(jnp.minimum(ay2, by2) - jnp.maximum(ay1, by1), 0))
  union = aw * ah + bw * bh - inter + eps
  iou = inter / union
  enclosing_w = jnp.maximum(ax2, bx2) - jnp.minimum(ax1, bx1)
  enclosing_h = jnp.maximum(ay2, by2) - jnp.minimum(ay1, by1)
  diagonal = enclosing_w ** 2 + enclosing_h ** 2 + eps
  centre_distance = ((bx1 + bx2 - ax1 - ax2) ** 2 + (by1 + by2 - ay1 - ay2) ** 2) / 4
  v = (4 / math.pi ** 2) * (jnp.arctan(bw / bh) - jnp.arctan(aw / ah)) ** 2
  alpha = jax.lax.stop_gradient(v / (1 - iou + v + eps))
  return iou - (centre_distance / diagonal + v * alpha)
