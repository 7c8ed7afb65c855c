"""Matchers and samplers: which anchors, priors or proposals learn from which ground truth, inside
the jitted step (ground truth padded to a fixed count per image, with a valid mask).

match (SSD): each valid ground-truth box claims its best default box (forced positive, even below
    the threshold), and every other default box takes its best ground truth when IoU >= threshold;
    class targets 0 = background, label l -> l + 1, box targets in SSD's encoding.
label_anchors (R-CNN's RPN, RetinaNet): IoU >= positive_iou positive, < negative_iou negative, in
    between ignored; each ground truth's best anchors (ties included) positive however low their
    IoU, as long as it is above 0 (torchvision would also mark every anchor of a ground truth that
    overlaps none; we leave those negative).
sample_balanced (R-CNN): `batch_size` of them with at most `positive_fraction` positive, drawn with
    a key (derived from the step, so a resumed run samples the same ones).
"""

import jax
import jax.numpy as jnp

from vision_jax.detection.boxes import center_to_corners, pairwise_iou
from vision_jax.detection.coders import encode_ssd

POSITIVE, NEGATIVE, IGNORED = 1, 0, -1


def match(gt_boxes: jnp.ndarray, gt_labels: jnp.ndarray, gt_valid: jnp.ndarray, priors: jnp.ndarray,
          threshold: float = 0.5) -> tuple[jnp.ndarray, jnp.ndarray]:
  """One image: gt (G, 4) corners, (G,) labels, (G,) bool valid; priors (P, 4) center form.

  Returns (loc_targets (P, 4) encoded offsets, cls_targets (P,) int32 with 0 = background).
  """
  iou = pairwise_iou(gt_boxes, center_to_corners(priors))          # (G, P)
  iou = jnp.where(gt_valid[:, None], iou, -1.0)
  best_gt = jnp.argmax(iou, axis=0)                                # (P,)
  best_gt_iou = jnp.max(iou, axis=0)
  best_prior = jnp.argmax(iou, axis=1)                             # (G,)
  num_priors = priors.shape[0]
  # Force each valid ground truth onto its best prior; padding rows scatter out of range (dropped).
  forced_prior = jnp.where(gt_valid, best_prior, num_priors)
  best_gt = best_gt.at[forced_prior].set(jnp.arange(gt_boxes.shape[0]), mode='drop')
  best_gt_iou = best_gt_iou.at[forced_prior].set(2.0, mode='drop')
  positive = best_gt_iou >= threshold
  cls_targets = jnp.where(positive, gt_labels[best_gt] + 1, 0).astype(jnp.int32)
  loc_targets = encode_ssd(gt_boxes[best_gt], priors)
  return jnp.where(positive[:, None], loc_targets, 0.0), cls_targets


batch_match = jax.vmap(match, in_axes=(0, 0, 0, None, None))


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
