"""RetinaNet (Lin et al. 2017, "Focal Loss for Dense Object Detection") as a detector family, laid out
as torchvision's retinanet_resnet50_fpn so its state_dict imports.

Network: backbone levels (ResNet-50's C3-C5) -> FPN with P6 and P7 by stride-2 convolutions ->
two heads shared by every level, each four 3x3 conv + ReLU layers and a 3x3 output convolution: the
classification subnet (A x K sigmoid logits, bias initialised to the prior 0.01) and the box subnet
(A x 4 deltas in the R-CNN encoding, weights 1). Anchors: at each level 3 sizes (2^0, 2^(1/3),
2^(2/3) of 32-512 px, truncated to whole pixels as torchvision does) x 3 aspect ratios = 9 per
location. Outputs {'cls_logits': [(B, A_l, K)], 'bbox_regression': [(B, A_l, 4)], 'anchors':
[(A_l, 4)]}, a list over levels, each in row, column, anchor order.
Loss: anchors with IoU >= 0.5 are foreground, < 0.4 background, in between ignored, each ground
truth's best anchors foreground (config.matching); the sigmoid focal loss (alpha 0.25, gamma 2) over
foreground and background anchors and the L1 loss of the foreground deltas, each per image divided by
its foreground count (at least 1), then averaged over images (torchvision's normalisation).
Inference (config.nms): per level the top pre_nms_top_k (anchor, class) scores above score_threshold,
decoded and clipped to the input, then NMS within each class over all levels at IoU 0.5 and the best
max_detections (torchvision: 1000 per level, score 0.05, 300 per image).
config.init_from may name a torchvision retinanet_resnet50_fpn state_dict (the whole detector) or a
zoo classifier's weights (the backbone). Boxes are [ymin, xmin, ymax, xmax] in input pixels.
"""

import math
import re
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vision_jax import models
from vision_jax.detection.anchors import RATIOS, level_anchors
from vision_jax.detection.boxes import clip_to_image
from vision_jax.detection.coders import RPN_WEIGHTS, decode_rcnn, encode_rcnn
from vision_jax.detection.detector import DETECTORS, Detector
from vision_jax.detection.losses import sigmoid_focal_loss
from vision_jax.detection.matching import IGNORED, POSITIVE, label_anchors
from vision_jax.detection.nms import batched_nms
from vision_jax.errors import ConfigError
from vision_jax.models.backbones import BACKBONES, trunk_levels
from vision_jax.models.layers import Conv, ConvChoice
from vision_jax.models.necks import FPN
from vision_jax.weights.convert import convert_state, whole_detector_from_file
from vision_jax.weights.torchvision import resnet_key

HEAD_NORMS = ('none', 'group')
# torchvision's _default_anchorgen: (x, int(x * 2^(1/3)), int(x * 2^(2/3))) for x in 32 ... 512.
ANCHOR_SIZES = tuple((x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in (32, 64, 128, 256, 512))


class Subnet(nn.Module):
  """num_convs 3x3 conv + ReLU layers, then a 3x3 convolution to anchors x outputs per location,
  applied to every level with the same weights -> per level (B, H * W * anchors, outputs).
  norm 'group': each conv (without bias) followed by GroupNorm of 32 groups, as torchvision's
  retinanet_resnet50_fpn_v2 heads; 'none' is the paper's (and torchvision's v1) head."""
  anchors: int
  outputs: int
  num_convs: int = 4
  bias: float = 0.0   # the output convolution's initial bias
  output_name: str = 'cls_logits'
  norm: str = 'none'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, levels: Sequence[jnp.ndarray]) -> list[jnp.ndarray]:
    if self.norm not in HEAD_NORMS:
      raise ConfigError(f'RetinaNet head_norm must be one of {HEAD_NORMS}, got {self.norm!r}')
    init, grouped = nn.initializers.normal(0.01), self.norm == 'group'
    width = levels[0].shape[-1]
    convs = [Conv(width, (3, 3), padding=((1, 1), (1, 1)), use_bias=not grouped, dtype=self.dtype, kernel_init=init,
                  name=f'conv{i}') for i in range(self.num_convs)]
    norms = [nn.GroupNorm(min(32, width), epsilon=1e-5, dtype=self.dtype, name=f'norm{i}') if grouped
             else (lambda x: x) for i in range(self.num_convs)]
    head = Conv(self.anchors * self.outputs, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, kernel_init=init,
                bias_init=nn.initializers.constant(self.bias), name=self.output_name)
    flat = []
    for x in levels:
      for layer, norm in zip(convs, norms):
        x = nn.relu(norm(layer(x)))
      x = head(x)
      flat.append(x.reshape(x.shape[0], -1, self.outputs))
    return flat


class RetinaNet(ConvChoice, nn.Module):
  """See the module docstring. num_classes counts object classes (sigmoid outputs, no background).
  The FPN adds stride-2 convolution levels until there is one per anchor size group."""
  num_classes: int = 91
  backbone: str = 'resnet50'
  levels: Sequence[str] = ('C3', 'C4', 'C5')
  backbone_args: Sequence[tuple[str, Any]] = ()
  anchor_sizes: Sequence[Sequence[float]] = ANCHOR_SIZES
  aspect_ratios: Sequence[float] = RATIOS
  fpn_features: int = 256
  head_convs: int = 4
  head_norm: str = 'none'
  prior_probability: float = 0.01
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, images, train: bool = False) -> dict:
    height, width = images.shape[1:3]
    _, levels = trunk_levels(self.backbone, self.levels, self.backbone_args, self.dtype, images.astype(self.dtype),
                             train)
    extra = len(self.anchor_sizes) - len(levels)
    if extra < 0:
      raise ConfigError(f'{len(levels)} backbone levels but {len(self.anchor_sizes)} anchor size groups')
    levels = FPN(self.fpn_features, extra_convs=extra, dtype=self.dtype, name='fpn')(levels)
    grids = [tuple(x.shape[1:3]) for x in levels]
    anchors = level_anchors((height, width), grids, self.anchor_sizes, self.aspect_ratios)
    per_location = len(self.anchor_sizes[0]) * len(self.aspect_ratios)
    prior_bias = -math.log((1 - self.prior_probability) / self.prior_probability)
    logits = Subnet(per_location, self.num_classes, self.head_convs, prior_bias, 'cls_logits', self.head_norm,
                    self.dtype, name='classification_head')(levels)
    deltas = Subnet(per_location, 4, self.head_convs, 0.0, 'bbox_reg', self.head_norm, self.dtype,
                    name='regression_head')(levels)
    return {'cls_logits': logits, 'bbox_regression': deltas, 'anchors': [jnp.asarray(a) for a in anchors]}


def retinanet_loss(cls_logits: jnp.ndarray, deltas: jnp.ndarray, anchors: jnp.ndarray, gt_boxes: jnp.ndarray,
                   gt_labels: jnp.ndarray, gt_valid: jnp.ndarray, positive_iou: float = 0.5,
                   negative_iou: float = 0.4, alpha: float = 0.25, gamma: float = 2.0) -> dict[str, jnp.ndarray]:
  """cls_logits (B, A, K), deltas (B, A, 4), anchors (A, 4); ground truth (B, G, 4) pixels, (B, G)
  0-based labels and valid -> {'loss', 'classification_loss', 'box_loss', 'foreground'}."""
  def per_image(logits, image_deltas, boxes, labels, valid):
    kind, matched = label_anchors(anchors, boxes, valid, positive_iou, negative_iou)
    foreground = kind == POSITIVE
    count = jnp.maximum(foreground.sum(), 1).astype(jnp.float32)
    targets = jax.nn.one_hot(labels[matched], logits.shape[-1]) * foreground[:, None]
    focal = sigmoid_focal_loss(logits, targets, alpha, gamma).sum(-1)
    # Only foreground anchors regress; the rest encode their own anchor (0 deltas), so padding boxes
    # of zero size never put log(0) into the gradient.
    matched_boxes = jnp.where(foreground[:, None], boxes[matched], anchors)
    error = jnp.abs(image_deltas.astype(jnp.float32) - encode_rcnn(matched_boxes, anchors, RPN_WEIGHTS)).sum(-1)
    return (jnp.sum(jnp.where(kind != IGNORED, focal, 0.0)) / count,
            jnp.sum(jnp.where(foreground, error, 0.0)) / count, foreground.sum().astype(jnp.float32))
  classification, box, foreground = jax.vmap(per_image)(cls_logits, deltas, gt_boxes, gt_labels, gt_valid)
  classification, box = classification.mean(), box.mean()
  return {'loss': classification + box, 'classification_loss': classification, 'box_loss': box,
          'foreground': foreground.mean()}


def detect(cls_logits: Sequence[jnp.ndarray], deltas: Sequence[jnp.ndarray], anchors: Sequence[jnp.ndarray],
           image_hw: jnp.ndarray, score_threshold: float = 0.05, iou_threshold: float = 0.5,
           pre_nms_top_k: int = 1000, max_detections: int = 300) -> dict[str, jnp.ndarray]:
  """One image, per level cls_logits (A_l, K), deltas (A_l, 4), anchors (A_l, 4) -> padded
  {'boxes' (D, 4), 'scores', 'labels' 0-based, 'valid'} (torchvision's postprocess_detections)."""
  boxes, scores, labels = [], [], []
  for level_logits, level_deltas, anchor_boxes in zip(cls_logits, deltas, anchors):
    num_classes = level_logits.shape[-1]
    level_scores = jax.nn.sigmoid(level_logits.astype(jnp.float32)).reshape(-1)
    level_scores = jnp.where(level_scores > score_threshold, level_scores, 0.0)
    top, index = jax.lax.top_k(level_scores, min(pre_nms_top_k, level_scores.shape[0]))
    anchor = index // num_classes
    boxes.append(clip_to_image(decode_rcnn(level_deltas[anchor].astype(jnp.float32), jnp.asarray(anchor_boxes)[anchor],
                                           RPN_WEIGHTS), image_hw))
    scores.append(top)
    labels.append(index % num_classes)
  out_boxes, out_scores, out_labels, valid = batched_nms(jnp.concatenate(boxes), jnp.concatenate(scores),
                                                         jnp.concatenate(labels), iou_threshold, max_detections)
  return {'boxes': out_boxes, 'scores': out_scores, 'labels': out_labels, 'valid': valid}


HEADS = ('cls_logits', 'bbox_reg')  # re-initialised when the class count differs (cls_logits)
MARKER = 'head.classification_head.cls_logits.weight'   # a key only a whole torchvision RetinaNet has


def torchvision_key(module_path: tuple) -> str:
  """Our module path -> torchvision's prefix, e.g. ('classification_head', 'conv2') ->
  'head.classification_head.conv.2.0', ('fpn', 'extra0') -> 'backbone.fpn.extra_blocks.p6'."""
  head, rest = module_path[0], module_path[1:]
  if head == 'backbone':
    return 'backbone.body.' + resnet_key(rest)
  if head == 'fpn':
    extra = re.fullmatch(r'extra(\d+)', rest[0])
    if extra:
      return f'backbone.fpn.extra_blocks.p{int(extra[1]) + 6}'
    kind, index = re.fullmatch(r'(inner|layer)(\d+)', rest[0]).groups()
    return f'backbone.fpn.{kind}_blocks.{index}.0'
  conv = re.fullmatch(r'conv(\d+)', rest[0])
  return f'head.{head}.conv.{conv[1]}.0' if conv else f'head.{head}.{rest[0]}'


def is_torchvision_retinanet(state: dict) -> bool:
  return MARKER in state


def convert_torchvision(state: dict, template: dict, source: str) -> dict:
  """Variables for every leaf of template from a torchvision RetinaNet state; a classification
  output of another class count is left out (to stay freshly initialised)."""
  params = dict(template['params'])
  heads = {k: v for k, v in params.items() if k != 'classification_head'}
  cls_head = params['classification_head']
  if state['head.classification_head.cls_logits.weight'].shape[0] != cls_head['cls_logits']['kernel'].shape[-1]:
    state = {k: v for k, v in state.items() if not k.startswith('head.classification_head.cls_logits.')}
    cls_head = {k: v for k, v in cls_head.items() if k != 'cls_logits'}
  return convert_state(state, {**template, 'params': {**heads, 'classification_head': cls_head}}, torchvision_key,
                       source)


def import_torchvision(init_from: str, template: dict) -> Optional[dict]:
  """Variables from a torchvision RetinaNet state_dict file, or None when init_from is not one."""
  return whole_detector_from_file(init_from, template, is_torchvision_retinanet, convert_torchvision)


@DETECTORS.register('retinanet')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """RetinaNet's Detector: outputs are the model's dict (logits, deltas, anchors)."""
  model = models.instantiate(RetinaNet, config.model, num_classes)
  matching, losses, nms = config.matching, config.losses, config.nms
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)
  input_hw = jnp.asarray(image_shape[:2], jnp.float32)

  def loss(outputs, batch, rng):
    terms = retinanet_loss(jnp.concatenate(outputs['cls_logits'], 1), jnp.concatenate(outputs['bbox_regression'], 1),
                           jnp.concatenate(outputs['anchors']),
                           batch['boxes'] * input_scale, batch['labels'], batch['box_valid'], matching.positive_iou,
                           matching.negative_iou, losses.focal_alpha, losses.focal_gamma)
    return terms['loss'], terms

  def postprocess(outputs):
    def one(logits, deltas):
      return detect(logits, deltas, outputs['anchors'], input_hw, nms.score_threshold, nms.iou_threshold,
                    nms.pre_nms_top_k, nms.max_detections)
    return jax.vmap(one)(outputs['cls_logits'], outputs['bbox_regression'])

  return Detector(model=model, loss=loss, postprocess=postprocess, backbone=BACKBONES.get(model.backbone).classifier,
                  import_weights=import_torchvision)
