"""YOLOv1 (Redmon et al. 2016, "You Only Look Once") as a detector family.

Network: a convolutional trunk and two fully connected layers that map the whole image to an S x S
grid; each cell predicts B boxes (x, y offsets of the centre inside the cell, square roots of width
and height relative to the image), B confidences and one set of C class probabilities. Outputs are
linear (the paper's last layer), every other layer uses leaky ReLU 0.1, and dropout 0.5 follows the
first fully connected layer. The trunk is a string of layers: 'KxC' a KxK convolution to C channels,
'KxC/S' with stride S, 'M' a 2x2 max-pool. YOLO24 is the paper's 24-layer network (Figure 3), FAST
its 9-layer Fast YOLO. It returns {'boxes': (N, S, S, B, 4) [x, y, sqrt w, sqrt h], 'confidence':
(N, S, S, B), 'scores': (N, S, S, C)}.

Loss (eq. 3): each ground-truth box belongs to the grid cell holding its centre (one per cell: the
first valid box, as Darknet fills its truth grid); of that cell's B predictors the one whose current
box overlaps it most is responsible. The sum-squared loss weighs the responsible predictors' centre
offsets and square-rooted sizes by lambda_coord = 5, their confidence against the IoU it achieves,
every other predictor's confidence against 0 by lambda_noobj = 0.5, and the cell's class
probabilities against one-hot targets; summed over the grid and averaged over the batch.
Inference: class-specific confidences (confidence x class probability per predictor) with per-class
NMS (config.nms). Boxes are [ymin, xmin, ymax, xmax] normalised to the image.
"""

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from vision_jax import models
from vision_jax.detection.boxes import pairwise_iou
from vision_jax.detection.detector import DETECTORS, Detector
from vision_jax.detection.nms import batched_per_class_nms
from vision_jax.errors import UserError
from vision_jax.models.layers import Conv, ConvChoice

YOLO24 = ('7x64/2 M 3x192 M 1x128 3x256 1x256 3x512 M ' + '1x256 3x512 ' * 4 + '1x512 3x1024 M '
          + '1x512 3x1024 ' * 2 + '3x1024 3x1024/2 3x1024 3x1024')
FAST = '3x16 M 3x32 M 3x64 M 3x128 M 3x256 M 3x512 M 3x1024 3x1024 3x256'
ARCHITECTURES = {'yolo': YOLO24, 'fast': FAST}
HEADS = ('fc', 'conv')


def parse_layer(token: str) -> tuple[int, int, int]:
  """'KxC' or 'KxC/S' -> (kernel, channels, stride)."""
  spec, _, stride = token.partition('/')
  kernel, channels = spec.split('x')
  return int(kernel), int(channels), int(stride or 1)


class YOLOv1(ConvChoice, nn.Module):
  """See the module docstring. `layers` is one of ARCHITECTURES or a layer string; `width` scales
  every convolution's channels; batch_norm (not in the paper; YOLOv2 added it) trains faster."""
  num_classes: int = 20
  layers: str = 'yolo'
  width: float = 1.0
  grid_size: int = 7
  boxes_per_cell: int = 2
  hidden: int = 4096
  dropout: float = 0.5
  batch_norm: bool = False
  head: str = 'fc'     # 'fc': the paper's two fully connected layers; 'conv': a shared 1x1 predictor (diagnostic)
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False) -> dict:
    x = x.astype(self.dtype)
    for i, token in enumerate(ARCHITECTURES.get(self.layers, self.layers).split()):
      if token == 'M':
        x = nn.max_pool(x, (2, 2), (2, 2))
        continue
      kernel, channels, stride = parse_layer(token)
      pad = kernel // 2
      x = Conv(max(int(channels * self.width), 1), (kernel, kernel), (stride, stride), ((pad, pad), (pad, pad)),
                  use_bias=not self.batch_norm, dtype=self.dtype, name=f'conv{i}')(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-5, dtype=self.dtype,
                         name=f'bn{i}')(x)
      x = nn.leaky_relu(x, 0.1)
    s, b = self.grid_size, self.boxes_per_cell
    if self.head == 'conv':   # not the paper's: one 1x1 predictor shared by every cell (YOLOv2's change)
      if x.shape[1:3] != (s, s):
        raise UserError(f"model.head 'conv' needs the trunk to end on the {s}x{s} grid; it ends on {x.shape[1]}x{x.shape[2]}")
      x = nn.Conv(5 * b + self.num_classes, (1, 1), dtype=self.dtype, name='head')(x)
    else:
      x = nn.leaky_relu(nn.Dense(self.hidden, dtype=self.dtype, name='fc1')(x.reshape(x.shape[0], -1)), 0.1)
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
      x = nn.Dense(s * s * (5 * b + self.num_classes), dtype=self.dtype, name='fc2')(x).reshape(-1, s, s, 5 * b + self.num_classes)
    return {'boxes': x[..., :4 * b].reshape(-1, s, s, b, 4), 'confidence': x[..., 4 * b:5 * b],
            'scores': x[..., 5 * b:]}


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


def decode_cells(raw_boxes: jnp.ndarray) -> jnp.ndarray:
  """(..., S, S, B, 4) [x, y, sqrt w, sqrt h] -> [ymin, xmin, ymax, xmax] normalised to the image."""
  grid_size = raw_boxes.shape[-3]
  offsets = cell_offsets(grid_size)
  cy = (offsets[..., 0] + raw_boxes[..., 1]) / grid_size
  cx = (offsets[..., 1] + raw_boxes[..., 0]) / grid_size
  h, w = raw_boxes[..., 3] ** 2, raw_boxes[..., 2] ** 2
  return jnp.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)


def encode_cells(boxes: jnp.ndarray) -> jnp.ndarray:
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
  iou = pairwise_iou(decode_cells(raw_boxes)[..., None, :], targets['boxes'][:, :, None, None, :])[..., 0, 0]  # (S, S, B)
  responsible = (jax.nn.one_hot(jnp.argmax(iou, -1), iou.shape[-1], dtype=bool) & targets['object'][..., None])
  box_error = jnp.sum((raw_boxes - encode_cells(targets['boxes'])[:, :, None]) ** 2, -1)
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
  boxes = jnp.clip(decode_cells(outputs['boxes'].astype(jnp.float32)), 0.0, 1.0)
  scores = outputs['confidence'].astype(jnp.float32)[..., None] * outputs['scores'].astype(jnp.float32)[..., None, :]
  n = boxes.shape[0]
  return boxes.reshape(n, -1, 4), scores.reshape(n, -1, scores.shape[-1])


@DETECTORS.register('yolov1')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """YOLOv1's Detector; config.losses holds the paper's lambda_coord (coord) and lambda_noobj (noobj)."""
  if config.model.get('head', 'fc') not in HEADS:
    raise UserError(f"unknown model.head {config.model.head!r}; choose one of: {', '.join(HEADS)}")
  model = models.instantiate(YOLOv1, config.model, num_classes)
  losses, nms = config.losses, config.nms
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)

  def loss(outputs, batch, rng):
    terms = yolov1_loss(outputs, batch['boxes'], batch['labels'], batch['box_valid'], losses.coord, losses.noobj)
    return terms['loss'], terms

  def postprocess(outputs):
    boxes, scores = class_confidences(outputs)
    return batched_per_class_nms(boxes * input_scale, scores, nms.score_threshold, nms.iou_threshold,
                                 nms.pre_nms_top_k, nms.max_detections)

  return Detector(model=model, loss=loss, postprocess=postprocess)
