"""The YOLOv8 detection loss: task-aligned targets (tal.py), then binary cross-entropy on the class
logits against the soft targets, (1 - CIoU) on the foreground boxes and the distribution focal loss
(Li et al. 2020) on their side distances, each weighted by the target scores and normalised by their
sum (at least 1); the total weighs them box 7.5, cls 0.5, dfl 1.5 (Ultralytics' defaults).
Distances and boxes are in each level's grid units inside the box terms, as Ultralytics computes them.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax.detection.dfl import distances_to_boxes, expected_distances
from vision_jax.detection.iou_losses import complete_iou
from vision_jax.detection.tal import assign

GAINS = {'box': 7.5, 'cls': 0.5, 'dfl': 1.5}


def boxes_to_distances(points: jnp.ndarray, boxes: jnp.ndarray) -> jnp.ndarray:
  """[ymin, xmin, ymax, xmax] boxes and (x, y) points -> (left, top, right, bottom) distances."""
  x, y = points[..., 0], points[..., 1]
  return jnp.stack([x - boxes[..., 1], y - boxes[..., 0], boxes[..., 3] - x, boxes[..., 2] - y], -1)


def distribution_focal_loss(logits: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
  """logits (..., 4, R), target distances (..., 4) -> (...): cross-entropy against the two bins that
  bracket each distance, weighted by closeness, averaged over the four sides."""
  reg_max = logits.shape[-1]
  target = jnp.clip(target, 0.0, reg_max - 1 - 0.01)
  left = jnp.floor(target).astype(jnp.int32)
  weight_left = left + 1 - target
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  take = lambda index: jnp.take_along_axis(log_probs, index[..., None], axis=-1)[..., 0]  # noqa: E731
  return -(take(left) * weight_left + take(left + 1) * (1 - weight_left)).mean(-1)


def yolov8_loss(box_logits: jnp.ndarray, cls_logits: jnp.ndarray, points: jnp.ndarray, strides: jnp.ndarray,
                gt_labels: jnp.ndarray, gt_boxes: jnp.ndarray, gt_valid: jnp.ndarray, gains=GAINS, topk: int = 10,
                alpha: float = 0.5, beta: float = 6.0) -> dict[str, jnp.ndarray]:
  """box_logits (B, A, 4 * R), cls_logits (B, A, C); points (A, 2) (x, y) cell centres in grid units
  and strides (A,) (numpy, static) as dfl.anchor_points gives them; ground truth boxes (B, G, 4) in
  input pixels.
  Returns {'loss', 'box_loss', 'cls_loss', 'dfl_loss', 'foreground'} (component losses before gains)."""
  reg_max = box_logits.shape[-1] // 4
  levels = np.unique(np.asarray(strides))
  middle_stride = float(levels[1] if len(levels) > 1 else levels[0])  # small ground truth widened to it
  stride = jnp.asarray(strides)[:, None]
  pred_boxes = distances_to_boxes(expected_distances(box_logits, reg_max), points)   # grid units
  targets = assign(jax.nn.sigmoid(cls_logits.astype(jnp.float32)), pred_boxes * stride, points * stride,
                   gt_labels, gt_boxes, gt_valid, topk, alpha, beta, middle_stride)
  score_sum = jnp.maximum(targets['scores'].sum(), 1.0)
  cls = optax.sigmoid_binary_cross_entropy(cls_logits.astype(jnp.float32), targets['scores']).sum() / score_sum
  weight = jnp.where(targets['foreground'], targets['scores'].sum(-1), 0.0)
  target_boxes = targets['boxes'] / stride
  box = jnp.sum((1.0 - complete_iou(pred_boxes, target_boxes)) * weight) / score_sum
  logits = box_logits.reshape(*box_logits.shape[:-1], 4, reg_max)
  dfl = jnp.sum(distribution_focal_loss(logits, boxes_to_distances(points, target_boxes)) * weight) / score_sum
  total = gains['box'] * box + gains['cls'] * cls + gains['dfl'] * dfl
  return {'loss': total, 'box_loss': box, 'cls_loss': cls, 'dfl_loss': dfl,
          'foreground': targets['foreground'].sum(-1).mean()}
