"""YOLOv1's targets, loss and decoding (Redmon et al. 2016, eq. 3). Each ground-truth box belongs to
the grid cell holding its centre (one per cell: the first valid box, as Darknet fills its truth
grid); of that cell's B predictors the one whose current box overlaps it most is responsible. The
sum-squared loss weighs the responsible predictors' centre offsets and square-rooted sizes by
lambda_coord = 5, their confidence against the IoU it achieves, every other predictor's confidence
against 0 by lambda_noobj = 0.5, and the cell's class probabilities against one-hot targets. It is
summed over the grid and averaged over the batch. Boxes are [ymin, xmin, ymax, xmax] normalised to
the image."""

import jax
import jax.numpy as jnp

from vision_jax.detection.boxes import pairwise_iou


def cell_targets(gt_boxes: jnp.ndarray, gt_labels: jnp.ndarray, gt_valid: jnp.ndarray, grid_size: int) -> dict:
  """One image's ground truth (G, 4) -> {'object' (S, S) bool, 'boxes' (S, S, 4), 'labels' (S, S)}:
  each cell takes the first valid box whose centre lies in it."""
  centre = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
  cell = jnp.clip(jnp.floor(centre * grid_size).astype(jnp.int32), 0, grid_size - 1)   # (G, 2) row, col
  grid = jnp.arange(grid_size)
  inside = (gt_valid[:, None, None] & (cell[:, 0, None, None] == grid[None, :, None])
            & (cell[:, 1, None, None] == grid[None, None, :]))                        # (G, S, S)
  first = jnp.argmax(inside, axis=0)
  return {'object': inside.any(0), 'boxes': gt_boxes[first], 'labels': gt_labels[first]}


def cell_offsets(grid_size: int) -> jnp.ndarray:
  """(S, S, 1, 2) (row, col) of each cell, broadcastable over its predictors."""
  rows, cols = jnp.meshgrid(jnp.arange(grid_size), jnp.arange(grid_size), indexing='ij')
  return jnp.stack([rows, cols], -1)[:, :, None].astype(jnp.float32)


def decode(raw_boxes: jnp.ndarray) -> jnp.ndarray:
  """(..., S, S, B, 4) [x, y, sqrt w, sqrt h] -> [ymin, xmin, ymax, xmax] normalised to the image."""
  grid_size = raw_boxes.shape[-3]
  offsets = cell_offsets(grid_size)
  cy = (offsets[..., 0] + raw_boxes[..., 1]) / grid_size
  cx = (offsets[..., 1] + raw_boxes[..., 0]) / grid_size
  h, w = raw_boxes[..., 3] ** 2, raw_boxes[..., 2] ** 2
  return jnp.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)


def encode(boxes: jnp.ndarray) -> jnp.ndarray:
  """(S, S, 4) corner boxes of each cell's object -> (S, S, 4) [x, y, sqrt w, sqrt h] targets."""
  grid_size = boxes.shape[-3]
  offsets = cell_offsets(grid_size)[:, :, 0]
  cy, cx = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
  h, w = jnp.maximum(boxes[..., 2] - boxes[..., 0], 0), jnp.maximum(boxes[..., 3] - boxes[..., 1], 0)
  return jnp.stack([cx * grid_size - offsets[..., 1], cy * grid_size - offsets[..., 0], jnp.sqrt(w), jnp.sqrt(h)], -1)


def image_loss(raw_boxes, confidence, class_probs, gt_boxes, gt_labels, gt_valid, coord: float, noobj: float):
  """One image's loss terms: raw_boxes (S, S, B, 4), confidence (S, S, B), class_probs (S, S, C)."""
  grid_size, _, _, _ = raw_boxes.shape
  targets = cell_targets(gt_boxes, gt_labels, gt_valid, grid_size)
  iou = pairwise_iou(decode(raw_boxes)[..., None, :], targets['boxes'][:, :, None, None, :])[..., 0, 0]  # (S, S, B)
  responsible = (jax.nn.one_hot(jnp.argmax(iou, -1), iou.shape[-1], dtype=bool) & targets['object'][..., None])
  box_error = jnp.sum((raw_boxes - encode(targets['boxes'])[:, :, None]) ** 2, -1)
  one_hot = jax.nn.one_hot(targets['labels'], class_probs.shape[-1])
  return {
      'coord_loss': jnp.sum(jnp.where(responsible, box_error, 0.0)),
      'object_loss': jnp.sum(jnp.where(responsible, (confidence - jax.lax.stop_gradient(iou)) ** 2, 0.0)),
      'noobject_loss': jnp.sum(jnp.where(responsible, 0.0, confidence ** 2)),
      'class_loss': jnp.sum(jnp.where(targets['object'][..., None], (class_probs - one_hot) ** 2, 0.0)),
      'objects': targets['object'].sum().astype(jnp.float32),
  }


def yolov1_loss(outputs: dict, gt_boxes, gt_labels, gt_valid, coord: float = 5.0, noobj: float = 0.5) -> dict:
  """Batched eq. 3 of the paper: {'loss', 'coord_loss', 'object_loss', 'noobject_loss',
  'class_loss', 'objects'}, each the mean over images of the per-image sum (before the lambdas)."""
  f32 = lambda x: x.astype(jnp.float32)  # noqa: E731
  terms = jax.vmap(image_loss, in_axes=(0, 0, 0, 0, 0, 0, None, None))(
      f32(outputs['boxes']), f32(outputs['confidence']), f32(outputs['scores']), gt_boxes, gt_labels, gt_valid,
      coord, noobj)
  terms = {k: v.mean() for k, v in terms.items()}
  terms['loss'] = (coord * terms['coord_loss'] + terms['object_loss'] + noobj * terms['noobject_loss']
                   + terms['class_loss'])
  return terms


def class_confidences(outputs: dict) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Batched inference: (boxes (N, S*S*B, 4) normalised, class-specific confidences (N, S*S*B, C)
  = Pr(class | object) x confidence, the paper's test-time score)."""
  boxes = jnp.clip(decode(outputs['boxes'].astype(jnp.float32)), 0.0, 1.0)
  scores = outputs['confidence'].astype(jnp.float32)[..., None] * outputs['scores'].astype(jnp.float32)[..., None, :]
  n = boxes.shape[0]
  return boxes.reshape(n, -1, 4), scores.reshape(n, -1, scores.shape[-1])
