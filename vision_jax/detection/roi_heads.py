"""The Fast R-CNN box head's targets, loss and inference (Girshick 2015, as torchvision's RoIHeads),
pure jnp with static shapes:

sample_rois: proposals plus the ground truth as candidates, IoU >= 0.5 with a ground truth is
    foreground (its class), below 0.5 background; `batch_size` RoIs per image with at most
    `positive_fraction` foreground, drawn with a key derived from the step. Unfilled slots are
    padding (label -1) when an image has fewer valid candidates than slots.
box_head_loss: softmax cross-entropy over the sampled RoIs (mean) and smooth-L1 on the foreground
    RoIs' own-class deltas, divided by the number sampled (torchvision's normalisation).
detect: softmax scores, class-specific boxes decoded with weights (10, 10, 5, 5) and clipped,
    scores under `score_threshold` and tiny boxes dropped, per-class NMS, the best
    `max_detections` as a padded set.
Boxes are [ymin, xmin, ymax, xmax] in input pixels; class 0 is the background.
"""

import jax
import jax.numpy as jnp
import optax

from vision_jax.detection.box_coder import BOX_HEAD_WEIGHTS, decode, encode
from vision_jax.detection.boxes import pairwise_iou
from vision_jax.detection.loss import smooth_l1
from vision_jax.detection.nms import per_class_nms
from vision_jax.detection.rpn import IGNORED, NEGATIVE, POSITIVE, clip_to_image, sample_balanced

PADDING = -1


def sample_rois(key: jax.Array, proposals: jnp.ndarray, proposal_valid: jnp.ndarray, gt_boxes: jnp.ndarray,
                gt_labels: jnp.ndarray, gt_valid: jnp.ndarray, batch_size: int = 512, positive_fraction: float = 0.25,
                foreground_iou: float = 0.5, weights=BOX_HEAD_WEIGHTS) -> dict[str, jnp.ndarray]:
  """One image: proposals (P, 4) with (P,) valid, ground truth (G, 4), 0-based labels (G,), (G,) valid
  -> {'rois' (R, 4), 'labels' (R,) class + 1 or 0 for background or PADDING, 'targets' (R, 4)}."""
  candidates = jnp.concatenate([proposals, gt_boxes])
  candidate_valid = jnp.concatenate([proposal_valid, gt_valid])
  iou = jnp.where(gt_valid[:, None], pairwise_iou(gt_boxes, candidates), -1.0)  # (G, P + G)
  best_iou, matched = iou.max(axis=0), iou.argmax(axis=0)
  kind = jnp.where(best_iou >= foreground_iou, POSITIVE, NEGATIVE)
  kind = jnp.where(candidate_valid, kind, IGNORED)
  if candidates.shape[0] < batch_size:  # fewer candidates than slots: pad with ignored ones
    extra = batch_size - candidates.shape[0]
    candidates = jnp.pad(candidates, ((0, extra), (0, 0)))
    kind, matched = jnp.pad(kind, (0, extra), constant_values=IGNORED), jnp.pad(matched, (0, extra))
  positive, negative = sample_balanced(key, kind, batch_size, positive_fraction)
  chosen = positive | negative
  order = jnp.argsort(~chosen, stable=True)[:batch_size]  # the sampled ones first, then padding
  rois, matched = candidates[order], matched[order]
  labels = jnp.where(positive[order], gt_labels[matched] + 1, jnp.where(negative[order], 0, PADDING))
  safe_rois = jnp.where((labels > 0)[:, None], rois, jnp.array([0.0, 0.0, 1.0, 1.0]))
  safe_gt = jnp.where((labels > 0)[:, None], gt_boxes[matched], jnp.array([0.0, 0.0, 1.0, 1.0]))
  return {'rois': rois, 'labels': labels.astype(jnp.int32), 'targets': encode(safe_gt, safe_rois, weights)}


def box_head_loss(class_logits: jnp.ndarray, box_deltas: jnp.ndarray, labels: jnp.ndarray, targets: jnp.ndarray,
                  beta: float = 1.0) -> dict[str, jnp.ndarray]:
  """class_logits (B, R, C + 1), box_deltas (B, R, C + 1, 4), labels (B, R) with PADDING, targets (B, R, 4)
  -> {'box_classifier_loss', 'box_regression_loss'}; beta 0 is the L1 loss."""
  sampled = labels != PADDING
  count = jnp.maximum(sampled.sum(), 1).astype(jnp.float32)
  safe_labels = jnp.maximum(labels, 0)
  ce = optax.softmax_cross_entropy_with_integer_labels(class_logits.astype(jnp.float32), safe_labels)
  own = jnp.take_along_axis(box_deltas.astype(jnp.float32), safe_labels[..., None, None], axis=-2)[..., 0, :]
  error = own - jax.lax.stop_gradient(targets)
  box = (jnp.abs(error) if beta == 0 else smooth_l1(error, beta)).sum(-1)
  return {'box_classifier_loss': jnp.sum(ce * sampled) / count,
          'box_regression_loss': jnp.sum(jnp.where(labels > 0, box, 0.0)) / count}


def detect(class_logits: jnp.ndarray, box_deltas: jnp.ndarray, proposals: jnp.ndarray, proposal_valid: jnp.ndarray,
           image_hw: jnp.ndarray, score_threshold: float = 0.05, iou_threshold: float = 0.5,
           max_detections: int = 100, pre_nms_top_k: int = 1000, min_size: float = 1e-2,
           weights=BOX_HEAD_WEIGHTS) -> dict[str, jnp.ndarray]:
  """One image: class_logits (P, C + 1), box_deltas (P, C + 1, 4), proposals (P, 4) with (P,) valid
  -> {'boxes' (D, 4), 'scores', 'labels' 0-based, 'valid'}. pre_nms_top_k >= P is torchvision's
  exact behaviour (every proposal of a class enters its NMS)."""
  scores = jax.nn.softmax(class_logits.astype(jnp.float32), axis=-1)[:, 1:]
  boxes = clip_to_image(decode(box_deltas[:, 1:].astype(jnp.float32), proposals[:, None], weights), image_hw)
  big_enough = ((boxes[..., 2] - boxes[..., 0]) >= min_size) & ((boxes[..., 3] - boxes[..., 1]) >= min_size)
  scores = jnp.where(big_enough & proposal_valid[:, None] & (scores > score_threshold), scores, 0.0)
  out_boxes, out_scores, labels, valid = per_class_nms(boxes, scores, score_threshold, iou_threshold,
                                                       min(pre_nms_top_k, proposals.shape[0]), max_detections)
  return {'boxes': out_boxes, 'scores': out_scores, 'labels': labels, 'valid': valid}
