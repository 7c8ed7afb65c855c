"""Jit-friendly non-maximum suppression: greedy NMS, per-class NMS to a fixed number of detections.

Shapes are static: per class the `pre_nms_top_k` highest scores enter NMS, and the image keeps
its `max_detections` best survivors over all classes, padded with score 0 and valid=False.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from vision_jax.detection.boxes import pairwise_iou


def greedy_nms(boxes: jnp.ndarray, scores: jnp.ndarray, iou_threshold: float) -> jnp.ndarray:
  """Boolean keep mask over boxes (K, 4) sorted by descending score; score <= 0 means absent.
  A box survives unless it overlaps a higher-scoring survivor by more than iou_threshold."""
  return suppress_in_order_vmappable(pairwise_iou(boxes, boxes) > iou_threshold, scores > 0)


def suppress_in_order(overlaps: jnp.ndarray, present: jnp.ndarray) -> jnp.ndarray:
  """Greedy NMS's keep mask over any leading dims: box i (in score order) survives if present
  (..., K) and no earlier survivor overlaps it (overlaps (..., K, K) bool). Called outside vmap,
  the loop reads and writes with dynamic slices, which exporters (jax2onnx) lower to plain Slices
  (vmap would turn them into gathers, whose ONNX lowering inside a Loop fails in onnxruntime)."""
  k = present.shape[-1]

  def visit(i, keep):
    row = jax.lax.dynamic_index_in_dim(overlaps, i, axis=overlaps.ndim - 2, keepdims=False)
    suppressed = jnp.any(keep & row & (jnp.arange(k) < i), axis=-1, keepdims=True)
    kept = jax.lax.dynamic_index_in_dim(keep, i, axis=keep.ndim - 1) & ~suppressed
    return jax.lax.dynamic_update_index_in_dim(keep, kept, i, keep.ndim - 1)
  return jax.lax.fori_loop(0, k, visit, present)


@jax.custom_batching.custom_vmap
def suppress_in_order_vmappable(overlaps: jnp.ndarray, present: jnp.ndarray) -> jnp.ndarray:
  """suppress_in_order for per-image code that callers vmap (R-CNN, RetinaNet): under one vmap the
  batch becomes a leading dim of the loop instead of a vmapped loop (same values)."""
  return suppress_in_order(overlaps, present)


@suppress_in_order_vmappable.def_vmap
def _suppress_batched(axis_size: int, in_batched: list, overlaps: jnp.ndarray, present: jnp.ndarray):
  overlaps, present = (x if batched else jnp.broadcast_to(x, (axis_size, *x.shape))
                       for x, batched in zip((overlaps, present), in_batched))
  return suppress_in_order(overlaps, present), True


def batched_nms(boxes: jnp.ndarray, scores: jnp.ndarray, labels: jnp.ndarray, iou_threshold: float,
                max_detections: int) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
  """One image's candidates, each with its own label: boxes (K, 4), scores (K,) (<= 0: absent),
  labels (K,) -> NMS within each label (torchvision's batched_nms) and the best max_detections
  survivors: (boxes (D, 4), scores (D,), labels (D,), valid (D,))."""
  order = jnp.argsort(-scores, stable=True)
  boxes, scores, labels = boxes[order], scores[order], labels[order]
  same_label = labels[:, None] == labels[None, :]
  k = boxes.shape[0]
  kept = jnp.where(suppress_in_order_vmappable(same_label & (pairwise_iou(boxes, boxes) > iou_threshold), scores > 0), scores, 0.0)
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
  out = batched_per_class_nms(boxes[None], class_scores[None], score_threshold, iou_threshold, pre_nms_top_k,
                              max_detections, suppress=suppress_in_order_vmappable)
  return tuple(out[key][0] for key in ('boxes', 'scores', 'labels', 'valid'))


def batched_per_class_nms(boxes: jnp.ndarray, class_scores: jnp.ndarray, score_threshold: float,
                          iou_threshold: float, pre_nms_top_k: int, max_detections: int,
                          suppress: Callable = suppress_in_order) -> dict[str, jnp.ndarray]:
  """per_class_nms over a batch: boxes (B, P, 4) or (B, P, C, 4), class_scores (B, P, C) ->
  {'boxes', 'scores', 'labels', 'valid'} of shape (B, D, ...); pre_nms_top_k is capped at P.
  The NMS loop runs once over all images and classes (see suppress_in_order)."""
  b, p, num_classes = class_scores.shape
  k = min(pre_nms_top_k, p)
  class_boxes = boxes if boxes.ndim == 4 else jnp.broadcast_to(boxes[:, :, None], (b, p, num_classes, 4))
  scores = jnp.swapaxes(class_scores, 1, 2)                                       # (B, C, P)
  top_scores, index = jax.lax.top_k(jnp.where(scores >= score_threshold, scores, 0.0), k)   # (B, C, K)
  candidates = jnp.take_along_axis(jnp.swapaxes(class_boxes, 1, 2), index[..., None], axis=2)   # (B, C, K, 4)
  keep = suppress(pairwise_iou(candidates, candidates) > iou_threshold, top_scores > 0)
  flat_scores = jnp.where(keep, top_scores, 0.0).reshape(b, num_classes * k)
  if max_detections > num_classes * k:   # fewer candidates than detections: pad with absent ones
    flat_scores = jnp.pad(flat_scores, ((0, 0), (0, max_detections - num_classes * k)))
  best, flat = jax.lax.top_k(flat_scores, max_detections)
  flat = jnp.minimum(flat, num_classes * k - 1)
  chosen = jnp.take_along_axis(candidates.reshape(b, num_classes * k, 4), flat[..., None], axis=1)
  return {'boxes': chosen, 'scores': best, 'labels': (flat // k).astype(jnp.int32), 'valid': best > 0}
