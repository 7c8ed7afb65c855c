"""Task-aligned assignment (Feng et al. 2021, TOOD; as YOLOv8 uses it), with static shapes:

candidates: locations whose centre lies strictly inside a ground truth (sides shorter than
    `min_side`, the middle stride, widened to it about the box's centre);
alignment: score of the ground truth's class ** alpha * CIoU(ground truth, predicted box) ** beta;
each valid ground truth takes its `topk` best-aligned candidates; a location claimed by several
ground truths keeps the one its predicted box overlaps most;
targets: the assigned box, and a one-hot class score scaled so that each ground truth's best
    location gets its best IoU (the normalised alignment).
Boxes are [ymin, xmin, ymax, xmax] in input pixels; points (A, 2) are (x, y) pixels.
"""

import jax
import jax.numpy as jnp

from vision_jax.detection.iou_losses import complete_iou

EPS = 1e-9


def widen_small_boxes(boxes: jnp.ndarray, valid: jnp.ndarray, min_side: float) -> jnp.ndarray:
  """Sides shorter than min_side widened to min_side about the centre (valid boxes only)."""
  centre = (boxes[..., :2] + boxes[..., 2:]) / 2
  size = boxes[..., 2:] - boxes[..., :2]
  size = jnp.where((size < min_side) & valid[..., None], min_side, size)
  return jnp.concatenate([centre - size / 2, centre + size / 2], -1)


def centres_inside(points: jnp.ndarray, boxes: jnp.ndarray) -> jnp.ndarray:
  """(G, A): point a's (x, y) strictly inside box g (by more than EPS on every side)."""
  x, y = points[:, 0], points[:, 1]
  return ((x[None] - boxes[:, 1:2] > EPS) & (y[None] - boxes[:, 0:1] > EPS)
          & (boxes[:, 3:4] - x[None] > EPS) & (boxes[:, 2:3] - y[None] > EPS))


def assign_one(scores: jnp.ndarray, pred_boxes: jnp.ndarray, points: jnp.ndarray, gt_labels: jnp.ndarray,
               gt_boxes: jnp.ndarray, gt_valid: jnp.ndarray, topk: int = 10, alpha: float = 0.5,
               beta: float = 6.0, min_side: float = 16.0) -> dict[str, jnp.ndarray]:
  """One image: scores (A, C) probabilities, pred_boxes (A, 4), points (A, 2), ground truth labels
  (G,), boxes (G, 4), valid (G,) -> {'foreground' (A,) bool, 'gt_index' (A,), 'boxes' (A, 4),
  'scores' (A, C) soft targets}."""
  inside = centres_inside(points, widen_small_boxes(gt_boxes, gt_valid, min_side)) & gt_valid[:, None]
  label_scores = scores[:, gt_labels].T                                          # (G, A)
  overlaps = jnp.clip(complete_iou(gt_boxes[:, None, :], pred_boxes[None, :, :]), 0.0)
  overlaps = jnp.where(inside, overlaps, 0.0)
  align = jnp.where(inside, label_scores ** alpha * overlaps ** beta, 0.0)
  _, top = jax.lax.top_k(align, topk)                                            # (G, k)
  in_topk = jnp.zeros_like(inside).at[jnp.arange(gt_boxes.shape[0])[:, None], top].set(True)
  positive = in_topk & inside                                                    # (G, A)
  claimed = positive.sum(0)
  best_gt = jnp.argmax(overlaps, axis=0)
  one_best = jnp.arange(gt_boxes.shape[0])[:, None] == best_gt[None]
  positive = jnp.where(claimed[None] > 1, one_best, positive)
  foreground = positive.any(0)
  gt_index = jnp.argmax(positive, axis=0)
  align, overlaps = align * positive, overlaps * positive
  normalised = align * overlaps.max(1, keepdims=True) / (align.max(1, keepdims=True) + EPS)
  weight = normalised.max(0)                                                     # (A,)
  one_hot = jax.nn.one_hot(jnp.maximum(gt_labels[gt_index], 0), scores.shape[-1])
  return {'foreground': foreground, 'gt_index': gt_index, 'boxes': gt_boxes[gt_index],
          'scores': one_hot * (foreground * weight)[:, None]}


def assign(scores, pred_boxes, points, gt_labels, gt_boxes, gt_valid, topk: int = 10, alpha: float = 0.5,
           beta: float = 6.0, min_side: float = 16.0) -> dict[str, jnp.ndarray]:
  """Batched assign_one over scores (B, A, C), pred_boxes (B, A, 4) and ground truth (B, G, ...)."""
  return jax.lax.stop_gradient(jax.vmap(
      lambda s, p, l, b, v: assign_one(s, p, points, l, b, v, topk, alpha, beta, min_side))(
          scores, pred_boxes, gt_labels, gt_boxes, gt_valid))
