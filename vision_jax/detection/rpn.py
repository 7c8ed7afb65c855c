"""Region-proposal pieces (Ren et al. 2015, as torchvision's RegionProposalNetwork), pure jnp with
static shapes so they run inside the jitted step:

label_anchors: IoU >= 0.7 positive, < 0.3 negative, in between ignored; each ground truth's best
    anchors (ties included) positive however low their IoU, as long as it is above 0 (torchvision
    would also mark every anchor of a ground truth that overlaps none; we leave those negative).
sample_balanced: `batch_size` anchors per image with at most `positive_fraction` positive, chosen
    with a key (derived from the step, so a resumed run samples the same anchors).
rpn_loss: binary cross-entropy over the sampled anchors and smooth-L1 (beta 1/9) over the sampled
    positives, both divided by the number sampled in the batch (torchvision's normalisation).
propose: per level the top `pre_nms_top_n` objectness scores, decoded, clipped to the image's real
    size, tiny boxes masked, NMS per level at 0.7, then the best `post_nms_top_n` over all levels
    as a fixed-size padded set.
proposal_recall: the share of ground truth covered by a kept proposal at IoU >= 0.5.
Boxes are [ymin, xmin, ymax, xmax] in input pixels.
"""

from typing import Sequence

import jax
import jax.numpy as jnp

import optax

from vision_jax.detection.box_coder import RPN_WEIGHTS, decode, encode
from vision_jax.detection.boxes import pairwise_iou
from vision_jax.detection.loss import smooth_l1
from vision_jax.detection.nms import greedy_nms

POSITIVE, NEGATIVE, IGNORED = 1, 0, -1


def label_anchors(anchors: jnp.ndarray, gt_boxes: jnp.ndarray, gt_valid: jnp.ndarray,
                  positive_iou: float = 0.7, negative_iou: float = 0.3) -> tuple[jnp.ndarray, jnp.ndarray]:
  """One image: anchors (A, 4), ground truth (G, 4) with (G,) valid -> (labels (A,) int32 of
  POSITIVE / NEGATIVE / IGNORED, index (A,) of each anchor's matched ground truth)."""
  iou = jnp.where(gt_valid[:, None], pairwise_iou(gt_boxes, anchors), -1.0)   # (G, A)
  best_iou, matched = iou.max(axis=0), iou.argmax(axis=0)
  labels = jnp.where(best_iou >= positive_iou, POSITIVE, jnp.where(best_iou < negative_iou, NEGATIVE, IGNORED))
  best_for_gt = iou.max(axis=1, keepdims=True)                                # (G, 1)
  is_best = (iou == best_for_gt) & (best_for_gt > 0) & gt_valid[:, None]      # (G, A)
  labels = jnp.where(is_best.any(axis=0), POSITIVE, labels)
  return labels.astype(jnp.int32), matched


def sample_balanced(key: jax.Array, labels: jnp.ndarray, batch_size: int = 256,
                    positive_fraction: float = 0.5) -> tuple[jnp.ndarray, jnp.ndarray]:
  """(positive, negative) boolean masks over labels (A,): at most batch_size * positive_fraction
  positives, negatives filling the rest, each drawn uniformly without replacement."""
  positive, negative = labels == POSITIVE, labels == NEGATIVE
  num_pos = jnp.minimum(int(batch_size * positive_fraction), positive.sum())
  num_neg = jnp.minimum(batch_size - num_pos, negative.sum())
  pos_key, neg_key = jax.random.split(key)

  def chosen(k, candidates, count):
    priority = jnp.where(candidates, jax.random.uniform(k, labels.shape), -1.0)
    rank = jnp.argsort(jnp.argsort(-priority))
    return candidates & (rank < count)
  return chosen(pos_key, positive, num_pos), chosen(neg_key, negative, num_neg)


def rpn_loss(key: jax.Array, objectness: jnp.ndarray, deltas: jnp.ndarray, anchors: jnp.ndarray,
             gt_boxes: jnp.ndarray, gt_valid: jnp.ndarray, batch_size_per_image: int = 256,
             positive_fraction: float = 0.5, beta: float = 1 / 9) -> dict[str, jnp.ndarray]:
  """objectness (B, A) logits and deltas (B, A, 4) over all levels' anchors (A, 4); ground truth
  (B, G, 4) pixels with (B, G) valid. Returns {'rpn_objectness_loss', 'rpn_box_loss'}."""
  def per_image(index, boxes, valid):
    labels, matched = label_anchors(anchors, boxes, valid)
    positive, negative = sample_balanced(jax.random.fold_in(key, index), labels, batch_size_per_image,
                                         positive_fraction)
    # Only positives regress; the rest encode their own anchor (0 deltas), so an image without
    # ground truth (padding boxes of zero size) never puts log(0) into the gradient.
    matched_boxes = jnp.where((labels == POSITIVE)[:, None], boxes[matched], anchors)
    return positive, negative, encode(matched_boxes, anchors, RPN_WEIGHTS)
  positive, negative, targets = jax.vmap(per_image)(jnp.arange(gt_boxes.shape[0]), gt_boxes, gt_valid)
  sampled = positive | negative
  count = jnp.maximum(sampled.sum(), 1).astype(jnp.float32)
  bce = optax.sigmoid_binary_cross_entropy(objectness.astype(jnp.float32), positive.astype(jnp.float32))
  box = smooth_l1(deltas.astype(jnp.float32) - jax.lax.stop_gradient(targets), beta).sum(-1)
  return {'rpn_objectness_loss': jnp.sum(bce * sampled) / count,
          'rpn_box_loss': jnp.sum(jnp.where(positive, box, 0.0)) / count}


def clip_to_image(boxes: jnp.ndarray, image_hw: jnp.ndarray) -> jnp.ndarray:
  """Boxes clipped to [0, h] x [0, w] (the image's real size, padding excluded)."""
  limit = jnp.concatenate([image_hw, image_hw]).astype(boxes.dtype)
  return jnp.clip(boxes, 0.0, limit)


def propose(objectness: Sequence[jnp.ndarray], deltas: Sequence[jnp.ndarray], anchors: Sequence[jnp.ndarray],
            image_hw: jnp.ndarray, pre_nms_top_n: int = 1000, post_nms_top_n: int = 1000,
            nms_threshold: float = 0.7, min_size: float = 1e-3) -> tuple[jnp.ndarray, jnp.ndarray]:
  """One image: per level objectness logits (A_l,), deltas (A_l, 4), anchors (A_l, 4); image_hw (2,)
  -> (proposals (post_nms_top_n, 4), their objectness probabilities; 0 marks padding)."""
  boxes, scores = [], []
  for logits, level_deltas, level_anchors in zip(objectness, deltas, anchors):
    top_logits, index = jax.lax.top_k(logits.astype(jnp.float32), min(pre_nms_top_n, logits.shape[0]))
    level_boxes = clip_to_image(decode(level_deltas[index].astype(jnp.float32), level_anchors[index], RPN_WEIGHTS),
                                image_hw)
    big_enough = ((level_boxes[:, 2] - level_boxes[:, 0]) >= min_size) & ((level_boxes[:, 3] - level_boxes[:, 1]) >= min_size)
    probs = jnp.where(big_enough, jax.nn.sigmoid(top_logits), 0.0)
    keep = greedy_nms(level_boxes, probs, nms_threshold)  # per level: levels never suppress each other
    boxes.append(level_boxes)
    scores.append(jnp.where(keep, probs, 0.0))
  all_boxes, all_scores = jnp.concatenate(boxes), jnp.concatenate(scores)
  count = min(post_nms_top_n, all_scores.shape[0])
  best, index = jax.lax.top_k(all_scores, count)
  return jnp.where((best > 0)[:, None], all_boxes[index], 0.0), best


def proposal_recall(proposals: jnp.ndarray, proposal_valid: jnp.ndarray, gt_boxes: jnp.ndarray,
                    gt_valid: jnp.ndarray, iou_threshold: float = 0.5) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Batched: proposals (B, P, 4) with (B, P) valid, ground truth (B, G, 4) with (B, G) valid ->
  (ground truth covered by some valid proposal at IoU >= iou_threshold, valid ground truth)."""
  iou = jnp.where(proposal_valid[:, None, :], pairwise_iou(gt_boxes, proposals), 0.0)   # (B, G, P)
  covered = (iou.max(axis=-1) >= iou_threshold) & gt_valid
  return covered.sum().astype(jnp.float32), gt_valid.sum().astype(jnp.float32)
