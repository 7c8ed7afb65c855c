"""YOLOv8 (Ultralytics' anchor-free detector with a decoupled head) as a detector family, laid out as
Ultralytics' yolov8.yaml so that a state_dict of theirs imports: module 'model_{i}' is their model.{i}.

Network: CSP-Darknet trunk (models/csp.py), PAN neck (models/necks.py), and per level (strides 8, 16,
32; with p2, yolov8-p2.yaml's 4, 8, 16, 32) a box branch of 4 x reg_max distribution logits (DFL) and
a class branch of logits; it returns {'boxes': (B, A, 4 * reg_max) logits, 'scores': (B, A, C)
logits} over all levels' locations A (level, row, column order), as their Detect head's raw outputs.
Boxes: each location predicts, per side (left, top, right, bottom), logits over reg_max bins; the
distance is the softmax expectation in units of the level's stride from the location's centre
(distribution focal loss, Li et al. 2020).
Loss: task-aligned assignment (Feng et al. 2021, TOOD), then binary cross-entropy on the class logits
against the soft targets, (1 - CIoU) on the foreground boxes and the distribution focal loss on their
side distances, each weighted by the target scores and normalised by their sum (at least 1); gains box
7.5, cls 0.5, dfl 1.5 (Ultralytics' defaults). Inference: decoded boxes, sigmoid scores, per-class NMS
(config.nms: Ultralytics' conf 0.001, IoU 0.7, 300 per image). config.init_from may name an
Ultralytics YOLOv8 state_dict file (the whole detector). Users export a trained checkpoint's weights
once, in their own environment:
  torch.save(YOLO('best.pt').model.state_dict(), 'yolov8n_state_dict.pt')
and we load tensors only (torch.load weights_only=True), never Ultralytics' pickled model objects.
Boxes are [ymin, xmin, ymax, xmax] in input pixels; points are (x, y).
"""

import math
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax import models
from vision_jax.detection.coders import decode_ltrb, encode_ltrb
from vision_jax.detection.detector import DETECTORS, Detector
from vision_jax.detection.losses import complete_iou
from vision_jax.detection.nms import batched_per_class_nms
from vision_jax.errors import UserError
from vision_jax.models.csp import ConvBN, CSPDarknet
from vision_jax.models.layers import Conv, ConvChoice
from vision_jax.models.necks import PAN
from vision_jax.weights.convert import convert_state, whole_detector_from_file

STRIDES = (8, 16, 32)
P2_STRIDES = (4, 8, 16, 32)
GAINS = {'box': 7.5, 'cls': 0.5, 'dfl': 1.5}


def level_strides(p2: bool = False) -> tuple[int, ...]:
  """The detection levels' strides: P3-P5, or P2-P5 for yolov8-p2.yaml (small objects)."""
  return P2_STRIDES if p2 else STRIDES


class DetectBranch(nn.Module):
  """Two 3x3 ConvBN and a 1x1 conv with bias: Ultralytics' cv2[i] (boxes) or legacy cv3[i] (classes)."""
  hidden: int
  outputs: int
  bias: float = 0.0  # the output conv's initial bias
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = ConvBN(self.hidden, 3, dtype=self.dtype, name='0')(x, train)
    x = ConvBN(self.hidden, 3, dtype=self.dtype, name='1')(x, train)
    return Conv(self.outputs, (1, 1), dtype=self.dtype, bias_init=nn.initializers.constant(self.bias), name='2')(x)


class DetectHead(nn.Module):
  """Ultralytics' Detect (legacy v8 form): per level a box branch (cv2_i) and a class branch (cv3_i)."""
  num_classes: int
  reg_max: int = 16
  strides: Sequence[int] = STRIDES
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, levels: Sequence[jnp.ndarray], train: bool = False) -> dict:
    box_hidden = max(16, levels[0].shape[-1] // 4, 4 * self.reg_max)
    cls_hidden = max(levels[0].shape[-1], min(self.num_classes, 100))
    boxes, scores = [], []
    for i, (x, stride) in enumerate(zip(levels, self.strides)):
      # Ultralytics' bias_init: box logits start at 2; class logits at about 0.01 objects per
      # 640-px image, spread over the classes and the level's locations.
      cls_bias = math.log(5 / self.num_classes / (640 / stride) ** 2)
      b = DetectBranch(box_hidden, 4 * self.reg_max, 2.0, self.dtype, name=f'cv2_{i}')(x, train)
      c = DetectBranch(cls_hidden, self.num_classes, cls_bias, self.dtype, name=f'cv3_{i}')(x, train)
      boxes.append(b.reshape(b.shape[0], -1, b.shape[-1]))
      scores.append(c.reshape(c.shape[0], -1, c.shape[-1]))
    return {'boxes': jnp.concatenate(boxes, 1), 'scores': jnp.concatenate(scores, 1)}


class YOLOv8(ConvChoice, nn.Module):
  """See the module docstring. num_classes counts object classes (no background). The trunk and neck
  share this module's scope, so their modules keep Ultralytics' flat model_{i} names."""
  num_classes: int = 80
  size: str = 'n'
  width: Optional[float] = None   # overrides the size's width multiplier (e.g. 0.125 for CPU demos)
  depth: Optional[float] = None   # overrides the size's depth multiplier
  reg_max: int = 16
  p2: bool = False                # Ultralytics' yolov8-p2.yaml: a fourth, stride-4 level for small objects
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False) -> dict:
    trunk = CSPDarknet(self.size, self.width or 0.0, self.depth or 0.0, self.dtype)
    neck = PAN(self.size, self.width or 0.0, self.depth or 0.0, self.p2, self.dtype)
    nn.share_scope(self, trunk)
    nn.share_scope(self, neck)
    outputs = neck(trunk(x, train), train)
    return DetectHead(self.num_classes, self.reg_max, level_strides(self.p2), self.dtype,
                      name=f'model_{neck.next_index}')(outputs, train)


def anchor_points(grids: Sequence[tuple[int, int]], strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
  """(points (A, 2) as (x, y) cell centres in grid units, stride (A,)) over the levels' (H, W)
  grids, row-major per level: the order the head's outputs are flattened in."""
  points, point_strides = [], []
  for (h, w), stride in zip(grids, strides):
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32) + 0.5, np.arange(w, dtype=np.float32) + 0.5, indexing='ij')
    points.append(np.stack([xs.reshape(-1), ys.reshape(-1)], -1))
    point_strides.append(np.full(h * w, stride, np.float32))
  return np.concatenate(points), np.concatenate(point_strides)


def expected_distances(logits: jnp.ndarray, reg_max: int = 16) -> jnp.ndarray:
  """(..., 4 * reg_max) bin logits, side-major -> (..., 4) expected (left, top, right, bottom)."""
  probs = jax.nn.softmax(logits.reshape(*logits.shape[:-1], 4, reg_max).astype(jnp.float32), axis=-1)
  return probs @ jnp.arange(reg_max, dtype=jnp.float32)


def decode_dfl(box_logits: jnp.ndarray, points: jnp.ndarray, strides: jnp.ndarray, reg_max: int = 16) -> jnp.ndarray:
  """(B, A, 4 * reg_max) logits -> (B, A, 4) boxes [ymin, xmin, ymax, xmax] in input pixels."""
  return decode_ltrb(expected_distances(box_logits, reg_max), points) * strides[:, None]


# Task-aligned assignment (TOOD, as YOLOv8 uses it), with static shapes. Candidates: locations
# whose centre lies strictly inside a ground truth (sides shorter than `min_side`, the middle stride,
# widened to it about the box's centre); alignment: score of the ground truth's class ** alpha *
# CIoU(ground truth, predicted box) ** beta; each valid ground truth takes its `topk` best-aligned
# candidates; a location claimed by several ground truths keeps the one its predicted box overlaps
# most; targets: the assigned box, and a one-hot class score scaled so that each ground truth's best
# location gets its best IoU (the normalised alignment).
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
  pred_boxes = decode_ltrb(expected_distances(box_logits, reg_max), points)   # grid units
  targets = assign(jax.nn.sigmoid(cls_logits.astype(jnp.float32)), pred_boxes * stride, points * stride,
                   gt_labels, gt_boxes, gt_valid, topk, alpha, beta, middle_stride)
  score_sum = jnp.maximum(targets['scores'].sum(), 1.0)
  cls = optax.sigmoid_binary_cross_entropy(cls_logits.astype(jnp.float32), targets['scores']).sum() / score_sum
  weight = jnp.where(targets['foreground'], targets['scores'].sum(-1), 0.0)
  target_boxes = targets['boxes'] / stride
  box = jnp.sum((1.0 - complete_iou(pred_boxes, target_boxes)) * weight) / score_sum
  logits = box_logits.reshape(*box_logits.shape[:-1], 4, reg_max)
  dfl = jnp.sum(distribution_focal_loss(logits, encode_ltrb(target_boxes, points)) * weight) / score_sum
  total = gains['box'] * box + gains['cls'] * cls + gains['dfl'] * dfl
  return {'loss': total, 'box_loss': box, 'cls_loss': cls, 'dfl_loss': dfl,
          'foreground': targets['foreground'].sum(-1).mean()}

MARKER_SUFFIX = '.dfl.conv.weight'   # the Detect head's fixed DFL integral: only in YOLOv8-style files


def ultralytics_key(module_path: tuple) -> str:
  """('model_22', 'cv3_1', '2') -> 'model.22.cv3.1.2'; ('model_2', 'm_0', 'cv1', 'bn') -> 'model.2.m.0.cv1.bn'."""
  return '.'.join(name.replace('_', '.') for name in module_path)


def is_ultralytics_detector(state: dict) -> bool:
  return any(k.startswith('model.') and k.endswith(MARKER_SUFFIX) for k in state)


def convert_yolov8(state: dict, template: dict, source: str) -> dict:
  """Variables for every leaf of template; the fixed DFL integral (arange(reg_max)) is dropped."""
  state = {k: v for k, v in state.items() if not k.endswith(MARKER_SUFFIX)}
  return convert_state(state, template, ultralytics_key, source)


def import_ultralytics(init_from: str, template: dict) -> Optional[dict]:
  """Variables from an Ultralytics YOLOv8 state_dict file, or None when init_from is not one."""
  return whole_detector_from_file(init_from, template, is_ultralytics_detector, convert_yolov8)


@DETECTORS.register('yolo')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """YOLOv8's Detector: outputs are the model's {'boxes': DFL logits, 'scores': class logits}."""
  model = models.instantiate(YOLOv8, config.model, num_classes)
  height, width = image_shape[:2]
  levels = level_strides(config.model.get('p2', False))
  if height % levels[-1] or width % levels[-1]:
    raise UserError(f'YOLO input {height}x{width} must be divisible by {levels[-1]}')
  points, strides = anchor_points([(height // s, width // s) for s in levels], levels)
  reg_max = config.model.get('reg_max', 16)
  losses, nms = config.losses, config.nms
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)
  gains = {'box': losses.box, 'cls': losses.cls, 'dfl': losses.dfl}

  def loss(outputs, batch, rng):
    terms = yolov8_loss(outputs['boxes'], outputs['scores'], jnp.asarray(points), strides, batch['labels'],
                        batch['boxes'] * input_scale, batch['box_valid'], gains, losses.topk, losses.alpha,
                        losses.beta)
    return terms['loss'], terms

  def postprocess(outputs):
    # As Ultralytics' validator: NMS on the decoded boxes as they are, clipped to the input after.
    boxes = decode_dfl(outputs['boxes'], jnp.asarray(points), jnp.asarray(strides), reg_max)
    scores = jax.nn.sigmoid(outputs['scores'].astype(jnp.float32))
    detections = batched_per_class_nms(boxes, scores, nms.score_threshold, nms.iou_threshold, nms.pre_nms_top_k,
                                       nms.max_detections)
    return {**detections, 'boxes': jnp.clip(detections['boxes'], 0.0, input_scale)}

  return Detector(model=model, loss=loss, postprocess=postprocess, import_weights=import_ultralytics)
