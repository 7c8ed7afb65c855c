"""Loss terms shared by the detector families: smooth L1 (SSD, R-CNN), complete IoU (YOLOv8) and the
sigmoid focal loss (RetinaNet). Pure jnp, elementwise, reduced by the caller."""

import math

import jax
import jax.numpy as jnp
import optax


def smooth_l1(x: jnp.ndarray, beta: float = 1.0) -> jnp.ndarray:
  """Huber-like: 0.5 x^2 / beta below beta, |x| - 0.5 beta above (PyTorch's smooth_l1_loss)."""
  absolute = jnp.abs(x)
  return jnp.where(absolute < beta, 0.5 * x * x / beta, absolute - 0.5 * beta)


def complete_iou(a: jnp.ndarray, b: jnp.ndarray, eps: float = 1e-7) -> jnp.ndarray:
  """Elementwise complete IoU (Zheng et al. 2020) of boxes a and b (..., 4) -> (...): IoU minus the
  normalised centre distance and an aspect-ratio consistency term. eps follows Ultralytics' bbox_iou
  (added to heights, the union and the enclosing diagonal); the aspect term's weight alpha carries no
  gradient, as in the paper."""
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


def sigmoid_focal_loss(logits: jnp.ndarray, targets: jnp.ndarray, alpha: float = 0.25,
                       gamma: float = 2.0) -> jnp.ndarray:
  """Elementwise focal loss (Lin et al. 2017, as torchvision.ops.sigmoid_focal_loss): binary
  cross-entropy scaled by (1 - p_t) ** gamma and weighted alpha for positives, 1 - alpha for
  negatives (alpha < 0: unweighted)."""
  logits = logits.astype(jnp.float32)
  p = jax.nn.sigmoid(logits)
  loss = optax.sigmoid_binary_cross_entropy(logits, targets)
  p_t = p * targets + (1 - p) * (1 - targets)
  loss = loss * (1 - p_t) ** gamma
  if alpha >= 0:
    loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
  return loss
