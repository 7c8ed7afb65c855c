"""SSD matching inside the jitted step: ground truth padded to a fixed count per image.

Each valid ground-truth box claims its best default box (forced positive, even below the
threshold), and every other default box takes its best ground truth when IoU >= threshold.
Class targets: 0 is background, ground-truth label l becomes l + 1.
"""

import jax
import jax.numpy as jnp

from vision_jax.detection.boxes import center_to_corners, encode, pairwise_iou


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
  loc_targets = encode(gt_boxes[best_gt], priors)
  return jnp.where(positive[:, None], loc_targets, 0.0), cls_targets


batch_match = jax.vmap(match, in_axes=(0, 0, 0, None, None))
