"""Jit-friendly non-maximum suppression: greedy NMS, per-class NMS to a fixed number of detections.

Shapes are static: per class the `pre_nms_top_k` highest scores enter NMS, and the image keeps
its `max_detections` best survivors over all classes, padded with score 0 and valid=False.
"""

import functools

import jax
import jax.numpy as jnp

from vision_jax.detection.boxes import pairwise_iou


def greedy_nms(boxes: jnp.ndarray, scores: jnp.ndarray, iou_threshold: float) -> jnp.ndarray:
  """Boolean keep mask over boxes (K, 4) sorted by descending score; score <= 0 means absent.
  A box survives unless it overlaps a higher-scoring survivor by more than iou_threshold."""
  iou = pairwise_iou(boxes, boxes)
  k = boxes.shape[0]

  def visit(i, keep):
    suppressed = jnp.any(keep & (iou[i] > iou_threshold) & (jnp.arange(k) < i))
    return keep.at[i].set(keep[i] & ~suppressed)
  return jax.lax.fori_loop(0, k, visit, scores > 0)


def batched_nms(boxes: jnp.ndarray, scores: jnp.ndarray, labels: jnp.ndarray, iou_threshold: float,
                max_detections: int) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
  """One image's candidates, each with its own label: boxes (K, 4), scores (K,) (<= 0: absent),
  labels (K,) -> NMS within each label (torchvision's batched_nms) and the best max_detections
  survivors: (boxes (D, 4), scores (D,), labels (D,), valid (D,))."""
  order = jnp.argsort(-scores, stable=True)
  boxes, scores, labels = boxes[order], scores[order], labels[order]
  same_label = labels[:, None] == labels[None, :]
  iou = jnp.where(same_label, pairwise_iou(boxes, boxes), 0.0)
  k = boxes.shape[0]

  def visit(i, keep):
    suppressed = jnp.any(keep & (iou[i] > iou_threshold) & (jnp.arange(k) < i))
    return keep.at[i].set(keep[i] & ~suppressed)
  kept = jnp.where(jax.lax.fori_loop(0, k, visit, scores > 0), scores, 0.0)
  if max_detections > k:
    pad = max_detections - k
    kept, boxes, labels = jnp.pad(kept, (0, pad)), jnp.pad(boxes, ((0, pad), (0, 0))), jnp.pad(labels, (0, pad))
  best, index = jax.lax.top_k(kept, max_detections)
  return boxes[index], best, labels[index].astype(jnp.int32), best > 0


def per_class_nms(boxes: jnp.ndarray, class_scores: jnp.ndarray, score_threshold: float,
                  iou_threshold: float, pre_nms_top_k: int, max_detections: int):
  """One image: boxes (P, 4) shared by every class or (P, C, 4) per class (R-CNN's class-specific
  regression), class_scores (P, C) without background.

  Returns (boxes (D, 4), scores (D,), labels (D,) int32 0-based, valid (D,) bool).
  """
  class_boxes = boxes if boxes.ndim == 3 else jnp.broadcast_to(boxes[:, None], (boxes.shape[0], class_scores.shape[1], 4))

  def one_class(scores, candidates):
    top_scores, index = jax.lax.top_k(jnp.where(scores >= score_threshold, scores, 0.0), pre_nms_top_k)
    keep = greedy_nms(candidates[index], top_scores, iou_threshold)
    return jnp.where(keep, top_scores, 0.0), candidates[index]
  scores, kept_boxes = jax.vmap(one_class, in_axes=(1, 1))(class_scores, class_boxes)   # (C, K), (C, K, 4)
  num_classes, k = scores.shape
  flat_scores = scores.reshape(-1)
  if max_detections > flat_scores.shape[0]:   # fewer candidates than detections: pad with absent ones
    flat_scores = jnp.pad(flat_scores, (0, max_detections - flat_scores.shape[0]))
  best, flat = jax.lax.top_k(flat_scores, max_detections)
  flat = jnp.minimum(flat, num_classes * k - 1)
  labels = (flat // k).astype(jnp.int32)
  chosen = kept_boxes.reshape(-1, 4)[flat]
  return chosen, best, labels, best > 0


def batched_per_class_nms(boxes: jnp.ndarray, class_scores: jnp.ndarray, score_threshold: float,
                          iou_threshold: float, pre_nms_top_k: int, max_detections: int) -> dict[str, jnp.ndarray]:
  """per_class_nms over a batch: boxes (B, P, 4) or (B, P, C, 4), class_scores (B, P, C) ->
  {'boxes', 'scores', 'labels', 'valid'} of shape (B, D, ...); pre_nms_top_k is capped at P."""
  nms = functools.partial(per_class_nms, score_threshold=score_threshold, iou_threshold=iou_threshold,
                          pre_nms_top_k=min(pre_nms_top_k, class_scores.shape[1]), max_detections=max_detections)
  return dict(zip(('boxes', 'scores', 'labels', 'valid'), jax.vmap(nms)(boxes, class_scores)))

