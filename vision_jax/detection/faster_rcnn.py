"""Faster R-CNN (Ren et al. 2015) with FPN (Lin et al. 2017) as a detector family, laid out as
torchvision's fasterrcnn_resnet50_fpn so its state_dict imports:

backbone levels -> FPN (or none: the paper's C4 variant on VGG-16, whose fc6/fc7 are the box head)
-> RPN head (shared 3x3 conv, objectness and deltas per anchor) -> proposals (top-k per level, NMS,
fixed-size padded set) -> in training, RoIs sampled from the proposals and the ground truth ->
RoIAlign (each RoI on its FPN level) -> box head (2 FC) -> class logits and class-specific deltas.
The loss adds the RPN's (anchors sampled with the step's key) and the box head's; inference decodes
class-specific boxes with per-class NMS (config.nms). config.init_from may name a torchvision
fasterrcnn_resnet50_fpn state_dict (the whole detector) or a zoo classifier's weights (the backbone).

Parts, pure jnp with static shapes so they run inside the jitted step:
rpn_loss: binary cross-entropy over the sampled anchors and smooth-L1 (beta 1/9) over the sampled
    positives, both divided by the number sampled in the batch (torchvision's normalisation).
propose: per level the top `pre_nms_top_n` objectness scores, decoded, clipped to the image's real
    size, tiny boxes masked, NMS per level at 0.7, then the best `post_nms_top_n` over all levels.
sample_rois: proposals plus the ground truth as candidates, IoU >= 0.5 with a ground truth is
    foreground (its class), below 0.5 background; `batch_size` RoIs per image with at most
    `positive_fraction` foreground. Unfilled slots are padding (label -1).
box_head_loss: softmax cross-entropy over the sampled RoIs (mean) and smooth-L1 on the foreground
    RoIs' own-class deltas, divided by the number sampled.
detect: softmax scores, class-specific boxes decoded with weights (10, 10, 5, 5) and clipped,
    scores under `score_threshold` and tiny boxes dropped, per-class NMS, the best `max_detections`.
Boxes are [ymin, xmin, ymax, xmax] in input pixels; num_classes counts object classes and class 0
of the head is the background.
"""

import math
import re
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax import models
from vision_jax.detection.anchors import C4_SIZES, FPN_SIZES, RATIOS, level_anchors
from vision_jax.detection.boxes import clip_to_image, pairwise_iou
from vision_jax.detection.coders import BOX_HEAD_WEIGHTS, RPN_WEIGHTS, decode_rcnn, encode_rcnn
from vision_jax.detection.detector import DETECTORS, Detector
from vision_jax.detection.losses import smooth_l1
from vision_jax.detection.matching import IGNORED, NEGATIVE, POSITIVE, label_anchors, sample_balanced
from vision_jax.detection.nms import greedy_nms, per_class_nms
from vision_jax.detection.roi_align import multilevel_roi_align
from vision_jax.errors import ConfigError
from vision_jax.models.backbones import BACKBONES, trunk_levels
from vision_jax.models.layers import Conv, ConvChoice
from vision_jax.models.necks import FPN
from vision_jax.weights.convert import convert_state, whole_detector_from_file
from vision_jax.weights.torchvision import chw_to_hwc_rows, resnet_key

NECKS = ('fpn', 'none')
PADDING = -1  # a sampled RoI slot left empty


class RPNHead(nn.Module):
  """A 3x3 conv + ReLU shared by all levels, then 1x1 objectness (A) and deltas (4A) per location."""
  num_anchors: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, levels: Sequence[jnp.ndarray]):
    init = nn.initializers.normal(0.01)
    shared = Conv(levels[0].shape[-1], (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, kernel_init=init,
                  name='conv')
    cls = Conv(self.num_anchors, (1, 1), dtype=self.dtype, kernel_init=init, name='cls_logits')
    bbox = Conv(4 * self.num_anchors, (1, 1), dtype=self.dtype, kernel_init=init, name='bbox_pred')
    objectness, deltas = [], []
    for x in levels:
      x = nn.relu(shared(x))
      objectness.append(cls(x).reshape(x.shape[0], -1))
      deltas.append(bbox(x).reshape(x.shape[0], -1, 4))
    return objectness, deltas


class TwoMLPHead(nn.Module):
  """Flattened RoI features -> fc6 -> ReLU -> fc7 -> ReLU (torchvision's TwoMLPHead)."""
  representation: int = 1024
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(self.representation, dtype=self.dtype, name='fc6')(x))
    return nn.relu(nn.Dense(self.representation, dtype=self.dtype, name='fc7')(x))


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
    return positive, negative, encode_rcnn(matched_boxes, anchors, RPN_WEIGHTS)
  positive, negative, targets = jax.vmap(per_image)(jnp.arange(gt_boxes.shape[0]), gt_boxes, gt_valid)
  sampled = positive | negative
  count = jnp.maximum(sampled.sum(), 1).astype(jnp.float32)
  bce = optax.sigmoid_binary_cross_entropy(objectness.astype(jnp.float32), positive.astype(jnp.float32))
  box = smooth_l1(deltas.astype(jnp.float32) - jax.lax.stop_gradient(targets), beta).sum(-1)
  return {'rpn_objectness_loss': jnp.sum(bce * sampled) / count,
          'rpn_box_loss': jnp.sum(jnp.where(positive, box, 0.0)) / count}


def propose(objectness: Sequence[jnp.ndarray], deltas: Sequence[jnp.ndarray], anchors: Sequence[jnp.ndarray],
            image_hw: jnp.ndarray, pre_nms_top_n: int = 1000, post_nms_top_n: int = 1000,
            nms_threshold: float = 0.7, min_size: float = 1e-3) -> tuple[jnp.ndarray, jnp.ndarray]:
  """One image: per level objectness logits (A_l,), deltas (A_l, 4), anchors (A_l, 4); image_hw (2,)
  -> (proposals (post_nms_top_n, 4), their objectness probabilities; 0 marks padding)."""
  boxes, scores = [], []
  for logits, level_deltas, anchor_boxes in zip(objectness, deltas, anchors):
    top_logits, index = jax.lax.top_k(logits.astype(jnp.float32), min(pre_nms_top_n, logits.shape[0]))
    level_boxes = clip_to_image(decode_rcnn(level_deltas[index].astype(jnp.float32), anchor_boxes[index],
                                            RPN_WEIGHTS), image_hw)
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
  return {'rois': rois, 'labels': labels.astype(jnp.int32), 'targets': encode_rcnn(safe_gt, safe_rois, weights)}


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
  boxes = clip_to_image(decode_rcnn(box_deltas[:, 1:].astype(jnp.float32), proposals[:, None], weights), image_hw)
  big_enough = ((boxes[..., 2] - boxes[..., 0]) >= min_size) & ((boxes[..., 3] - boxes[..., 1]) >= min_size)
  scores = jnp.where(big_enough & proposal_valid[:, None] & (scores > score_threshold), scores, 0.0)
  out_boxes, out_scores, labels, valid = per_class_nms(boxes, scores, score_threshold, iou_threshold,
                                                       min(pre_nms_top_k, proposals.shape[0]), max_detections)
  return {'boxes': out_boxes, 'scores': out_scores, 'labels': labels, 'valid': valid}


def check_divisible(height: int, width: int, grids: Sequence[tuple[int, int]]) -> None:
  """Anchor strides are input size / grid size, exact only when the input's sides are multiples of
  the coarsest backbone level's stride (32 for R50-FPN's C5, torchvision's size_divisible):
  otherwise they come out wrong (3, 7, 15 for 4, 8, 16) and so does every box: refused."""
  coarsest = 2 ** round(math.log2(max(height / grids[-1][0], 1)))
  if height % coarsest or width % coarsest:
    raise ConfigError(f'Faster R-CNN input {height}x{width} must have sides divisible by {coarsest} (its coarsest '
                      f'feature stride): pad the images to a multiple of {coarsest}')


class FasterRCNN(ConvChoice, nn.Module):
  """See the module docstring. In training, pass the ground truth (gt_boxes (B, G, 4) in input
  pixels, 0-based gt_labels, gt_valid); RoI sampling draws from the 'sample' RNG stream.
  backbone: a models/backbones.py name; neck 'fpn' adds a level (max-pooled) for each anchor size
  group beyond the backbone's levels (P6 of R50-FPN); 'none' is the C4 variant."""
  num_classes: int = 91
  backbone: str = 'resnet50'
  neck: str = 'fpn'
  levels: Sequence[str] = ()             # the backbone levels used (empty: all)
  backbone_args: Sequence[tuple[str, Any]] = ()
  anchor_sizes: Optional[Sequence[Sequence[float]]] = None  # None: FPN_SIZES, or C4_SIZES without a neck
  aspect_ratios: Sequence[float] = RATIOS
  fpn_features: int = 256
  representation: int = 1024
  rpn_pre_nms_top_n_train: int = 2000
  rpn_post_nms_top_n_train: int = 2000
  rpn_pre_nms_top_n_test: int = 1000
  rpn_post_nms_top_n_test: int = 1000
  rpn_nms_threshold: float = 0.7
  rpn_batch_size_per_image: int = 256
  rpn_positive_fraction: float = 0.5
  box_batch_size_per_image: int = 512
  box_positive_fraction: float = 0.25
  box_foreground_iou: float = 0.5
  roi_output_size: int = 7
  roi_sampling_ratio: int = 2
  roi_aligned: bool = False  # torchvision's MultiScaleRoIAlign; detectron2's newer models use True
  roi_canonical_scale: float = 224.0
  roi_canonical_level: int = 4
  roi_align_impl: str = 'gather'  # or 'matmul': faster on CPU for small feature maps (roi_align.py)
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  def sizes(self) -> Sequence[Sequence[float]]:
    return self.anchor_sizes or (FPN_SIZES if self.neck == 'fpn' else C4_SIZES)

  def features(self, images, train: bool):
    """(feature levels, how many of them RoIs pool from, box head) for the configured backbone and neck."""
    if self.neck not in NECKS:
      raise ConfigError(f'Faster R-CNN neck must be one of {NECKS}, got {self.neck!r}')
    trunk, levels = trunk_levels(self.backbone, self.levels, self.backbone_args, self.dtype, images, train)
    pooled = len(levels)
    if self.neck == 'fpn':
      levels = FPN(self.fpn_features, len(self.sizes()) - len(levels), dtype=self.dtype, name='fpn')(levels)
    box_head = trunk.head if BACKBONES.get(self.backbone).rcnn_box_head else TwoMLPHead(self.representation, self.dtype, name='box_head')
    return levels, pooled, box_head

  @nn.compact
  def __call__(self, images, train: bool = False, gt_boxes=None, gt_labels=None, gt_valid=None,
               image_hw: Optional[jnp.ndarray] = None) -> dict:
    batch, height, width = images.shape[:3]
    levels, num_pooled, box_head = self.features(images.astype(self.dtype), train)
    sizes = self.sizes()
    if len(levels) != len(sizes):
      raise ConfigError(f'{len(levels)} feature levels but {len(sizes)} anchor size groups')
    grids = [tuple(x.shape[1:3]) for x in levels]
    check_divisible(height, width, grids[:num_pooled])   # the backbone's levels (P6 is pooled from P5)
    strides = [height // g[0] for g in grids]
    anchors = [jnp.asarray(a) for a in level_anchors((height, width), grids, sizes, self.aspect_ratios)]
    num_anchors = len(sizes[0]) * len(self.aspect_ratios)
    objectness, deltas = RPNHead(num_anchors, self.dtype, name='rpn')(levels)
    if image_hw is None:
      image_hw = jnp.broadcast_to(jnp.asarray([height, width], jnp.float32), (batch, 2))
    pre_n, post_n = ((self.rpn_pre_nms_top_n_train, self.rpn_post_nms_top_n_train) if train else
                     (self.rpn_pre_nms_top_n_test, self.rpn_post_nms_top_n_test))
    proposals, proposal_scores = jax.vmap(
        lambda o, d, hw: propose(o, d, anchors, hw, pre_n, post_n, self.rpn_nms_threshold))(
            [jax.lax.stop_gradient(o) for o in objectness], [jax.lax.stop_gradient(d) for d in deltas],
            image_hw.astype(jnp.float32))
    outputs = {'objectness': jnp.concatenate(objectness, 1), 'rpn_deltas': jnp.concatenate(deltas, 1),
               'anchors': jnp.concatenate(anchors), 'proposals': proposals, 'proposal_scores': proposal_scores,
               'image_hw': image_hw}
    rois, roi_valid = proposals, proposal_scores > 0
    if train:
      if gt_boxes is None:
        raise ValueError('FasterRCNN in training needs gt_boxes, gt_labels and gt_valid (its RoI targets)')
      keys = jax.random.split(self.make_rng('sample'), batch)
      sampled = jax.vmap(lambda k, p, v, b, l, g: sample_rois(
          k, p, v, b, l, g, self.box_batch_size_per_image, self.box_positive_fraction, self.box_foreground_iou))(
              keys, proposals, roi_valid, gt_boxes, gt_labels, gt_valid)
      rois = sampled['rois']
      outputs.update(roi_labels=sampled['labels'], roi_targets=sampled['targets'])
    pooled_levels = levels[:num_pooled]  # the FPN's extra levels serve the RPN only
    pooled = jax.vmap(lambda feats, r: multilevel_roi_align(
        feats, strides[:num_pooled], r, self.roi_output_size, self.roi_sampling_ratio, self.roi_aligned,
        self.roi_canonical_scale, self.roi_canonical_level, self.roi_align_impl))(pooled_levels, rois)
    x = box_head(pooled.reshape(batch * rois.shape[1], -1), train)
    logits = nn.Dense(self.num_classes + 1, dtype=self.dtype, kernel_init=nn.initializers.normal(0.01),
                      name='cls_score')(x)
    box_deltas = nn.Dense(4 * (self.num_classes + 1), dtype=self.dtype, kernel_init=nn.initializers.normal(0.001),
                          name='bbox_pred')(x)
    outputs.update(rois=rois, class_logits=logits.reshape(batch, rois.shape[1], -1),
                   box_deltas=box_deltas.reshape(batch, rois.shape[1], -1, 4))
    return outputs


# torchvision's fasterrcnn_resnet50_fpn (and the ResNet-101 variant built with the same helper).
DETECTOR_HEADS = ('cls_score', 'bbox_pred')  # re-initialised when the class count differs
MARKER = 'rpn.head.cls_logits.weight'        # a key only a whole torchvision detector has


def torchvision_key(module_path: tuple) -> str:
  """Our module path -> torchvision's prefix, e.g. ('fpn', 'inner0') -> 'backbone.fpn.inner_blocks.0.0'."""
  head, rest = module_path[0], module_path[1:]
  if head == 'backbone':
    return 'backbone.body.' + resnet_key(rest)
  if head == 'fpn':
    kind, index = re.fullmatch(r'(inner|layer)(\d+)', rest[0]).groups()
    return f'backbone.fpn.{kind}_blocks.{index}.0'
  if head == 'rpn':
    return 'rpn.head.conv.0.0' if rest[0] == 'conv' else f'rpn.head.{rest[0]}'
  if head == 'box_head':
    return f'roi_heads.box_head.{rest[0]}'
  return f'roi_heads.box_predictor.{head}'


def is_torchvision_detector(state: dict) -> bool:
  return MARKER in state


def convert_torchvision(state: dict, template: dict, source: str) -> dict:
  """Variables for every leaf of template from a torchvision Faster R-CNN state; the class
  predictor is left out (to stay freshly initialised) when its class count differs."""
  state = dict(state)
  fc6 = state.get('roi_heads.box_head.fc6.weight')
  channels = template['params']['fpn']['layer0']['kernel'].shape[-1]
  if fc6 is not None:
    state['roi_heads.box_head.fc6.weight'] = chw_to_hwc_rows(np.asarray(fc6), channels)
  return convert_state(state, template, torchvision_key, source, skip_module=DETECTOR_HEADS)


def import_torchvision(init_from: str, template: dict) -> Optional[dict]:
  """Variables from a torchvision Faster R-CNN state_dict file, or None when init_from is not one."""
  return whole_detector_from_file(init_from, template, is_torchvision_detector, convert_torchvision)


@DETECTORS.register('faster_rcnn')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """Faster R-CNN's Detector: outputs are the model's dict (RPN outputs, proposals, RoI outputs)."""
  model = models.instantiate(FasterRCNN, config.model, num_classes)
  nms, losses = config.nms, config.losses
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)

  def model_kwargs(batch):
    return {'gt_boxes': batch['boxes'] * input_scale, 'gt_labels': batch['labels'], 'gt_valid': batch['box_valid']}

  def loss(outputs, batch, rng):
    rpn = rpn_loss(rng, outputs['objectness'], outputs['rpn_deltas'], outputs['anchors'],
                   batch['boxes'] * input_scale, batch['box_valid'], model.rpn_batch_size_per_image,
                   model.rpn_positive_fraction, losses.rpn_beta)
    head = box_head_loss(outputs['class_logits'], outputs['box_deltas'], outputs['roi_labels'],
                         outputs['roi_targets'], losses.box_beta)
    total = sum(rpn.values()) + sum(head.values())
    foreground = jnp.mean(jnp.sum(outputs['roi_labels'] > 0, axis=1).astype(jnp.float32))
    return total, {**rpn, **head, 'loss': total, 'foreground_rois': foreground}

  def postprocess(outputs):
    def one(logits, deltas, proposals, scores, image_hw):
      return detect(logits, deltas, proposals, scores > 0, image_hw, nms.score_threshold, nms.iou_threshold,
                    nms.max_detections, nms.pre_nms_top_k)
    return jax.vmap(one)(outputs['class_logits'], outputs['box_deltas'], outputs['proposals'],
                         outputs['proposal_scores'], outputs['image_hw'])

  def eval_counts(outputs, batch):
    hits, total = proposal_recall(outputs['proposals'], outputs['proposal_scores'] > 0,
                                  batch['boxes'] * input_scale, batch['box_valid'])
    return {'rpn_recall': (hits, total)}

  return Detector(model=model, loss=loss, postprocess=postprocess, backbone=BACKBONES.get(model.backbone).classifier,
                  model_kwargs=model_kwargs, import_weights=import_torchvision, eval_counts=eval_counts)
