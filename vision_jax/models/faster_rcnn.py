"""Faster R-CNN (Ren et al. 2015) with FPN (Lin et al. 2017), laid out as torchvision's
fasterrcnn_resnet50_fpn so its state_dict imports (weights/torchvision_detection.py):

backbone -> feature levels -> RPN head (shared 3x3 conv, objectness and deltas per anchor) ->
proposals (top-k per level, NMS, fixed-size padded set) -> in training, RoIs sampled from the
proposals and the ground truth -> RoIAlign (each RoI on its FPN level) -> box head (2 FC) ->
class logits and class-specific deltas.

Backbones: 'resnet50_fpn' / 'resnet101_fpn' (levels P2-P6, P6 a stride-2 max-pool of P5),
'vgg16' (the paper's C4 variant: conv5_3 at stride 16, VGG's fc6/fc7 as the box head) and
'tiny_fpn' (a small CPU-friendly network for the bundled digit scenes).
num_classes counts object classes; class 0 of the head is the background.
"""

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.detection.anchors import C4_SIZES, FPN_SIZES, RATIOS, level_anchors
from vision_jax.detection.roi_align import fpn_levels, roi_align_single
from vision_jax.detection.roi_heads import sample_rois
from vision_jax.detection.rpn import propose
from vision_jax.models.layers import Conv, batch_norm, conv
from vision_jax.models.resnet import IMAGENET_RESNETS, ResNet
from vision_jax.models.vgg import VGG_BLOCKS

BACKBONES = ('resnet50_fpn', 'resnet101_fpn', 'vgg16', 'tiny_fpn')
TORCH_CONV_INIT = nn.initializers.variance_scaling(1.0, 'fan_in', 'uniform')  # kaiming_uniform(a=1)


def nearest_upsample(x: jnp.ndarray, hw: tuple[int, int]) -> jnp.ndarray:
  """PyTorch's F.interpolate(mode='nearest', size=hw): source index floor(i * in / out)."""
  rows = (np.arange(hw[0]) * x.shape[1]) // hw[0]
  cols = (np.arange(hw[1]) * x.shape[2]) // hw[1]
  return x[:, rows][:, :, cols]


class FPN(nn.Module):
  """Lateral 1x1 and output 3x3 convolutions with a nearest top-down path; extra_pool adds a level
  that max-pools the last one with stride 2 (torchvision's LastLevelMaxPool)."""
  features: int = 256
  extra_pool: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, inputs: Sequence[jnp.ndarray]) -> list[jnp.ndarray]:
    def conv_named(kernel, name):
      return Conv(self.features, (kernel, kernel), padding=((kernel // 2,) * 2,) * 2, dtype=self.dtype,
                     kernel_init=TORCH_CONV_INIT, name=name)
    last = conv_named(1, f'inner{len(inputs) - 1}')(inputs[-1])
    outputs = [conv_named(3, f'layer{len(inputs) - 1}')(last)]
    for i in range(len(inputs) - 2, -1, -1):
      lateral = conv_named(1, f'inner{i}')(inputs[i])
      last = lateral + nearest_upsample(last, lateral.shape[1:3])
      outputs.insert(0, conv_named(3, f'layer{i}')(last))
    if self.extra_pool:
      outputs.append(outputs[-1][:, ::2, ::2])  # max_pool2d(kernel 1, stride 2)
    return outputs


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


class VGG16C4(nn.Module):
  """VGG-16's convolutions to conv5_3 (stride 16, no pool5) and its fc6/fc7 as the box head, under
  VGG's own names so ImageNet VGG-16 weights load (Ren et al. 2015)."""
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  def setup(self):
    self.convs = [[Conv(w, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=f'conv{b + 1}_{i + 1}')
                   for i, w in enumerate(widths)] for b, widths in enumerate(VGG_BLOCKS[16])]
    self.fc6 = nn.Dense(4096, dtype=self.dtype)
    self.fc7 = nn.Dense(4096, dtype=self.dtype)
    self.dropout = nn.Dropout(self.dropout_rate)

  def features(self, x, train: bool = False) -> list[jnp.ndarray]:
    for b, block in enumerate(self.convs):
      for layer in block:
        x = nn.relu(layer(x))
      if b < 4:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    return [x]

  def head(self, x, train: bool = False):
    x = x.reshape(x.shape[0], -1)
    x = self.dropout(nn.relu(self.fc6(x)), deterministic=not train)
    return self.dropout(nn.relu(self.fc7(x)), deterministic=not train)


class TinyBackbone(nn.Module):
  """Stride-2 stem, then BN conv pairs each halving the resolution: stages at strides 4, 8, 16."""
  widths: Sequence[int] = (32, 64, 128)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.relu(batch_norm(train, self.dtype, name='stem_bn')(conv(self.widths[0] // 2, 3, 2, self.dtype, name='stem')(x)))
    stages = []
    for b, width in enumerate(self.widths):
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
      for i in range(2):
        x = conv(width, 3, 1, self.dtype, name=f'conv{b + 1}_{i + 1}')(x)
        x = nn.relu(batch_norm(train, self.dtype, name=f'bn{b + 1}_{i + 1}')(x))
      stages.append(x)
    return stages


def multilevel_roi_align(levels: Sequence[jnp.ndarray], strides: Sequence[int], rois: jnp.ndarray,
                         output_size: int, sampling_ratio: int, aligned: bool, canonical_scale: float,
                         canonical_level: int, impl: str = 'gather') -> jnp.ndarray:
  """One image: each RoI (K, 4) pooled from its FPN level (Lin et al. eq. 1) -> (K, S, S, C)."""
  if len(levels) == 1:
    return roi_align_single(levels[0], rois, output_size, 1.0 / strides[0], sampling_ratio, aligned, impl)
  min_level = int(round(np.log2(strides[0])))
  level = fpn_levels(rois, min_level, min_level + len(levels) - 1, canonical_level, canonical_scale) - min_level
  pooled = jnp.zeros((rois.shape[0], output_size, output_size, levels[0].shape[-1]), levels[0].dtype)
  for k, (features, stride) in enumerate(zip(levels, strides)):
    at_level = roi_align_single(features, rois, output_size, 1.0 / stride, sampling_ratio, aligned, impl)
    pooled = jnp.where((level == k)[:, None, None, None], at_level, pooled)
  return pooled


class FasterRCNN(nn.Module):
  """See the module docstring. In training, pass the ground truth (gt_boxes (B, G, 4) in input
  pixels, 0-based gt_labels, gt_valid); RoI sampling draws from the 'sample' RNG stream."""
  num_classes: int = 91
  backbone: str = 'resnet50_fpn'
  anchor_sizes: Optional[Sequence[Sequence[float]]] = None  # None: FPN_SIZES, or C4_SIZES for vgg16
  aspect_ratios: Sequence[float] = RATIOS
  fpn_features: int = 256
  tiny_widths: Sequence[int] = (32, 64, 128)
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

  def levels(self, images, train: bool):
    """(feature levels, their strides, box head) for the configured backbone."""
    if self.backbone not in BACKBONES:
      raise ValueError(f'unknown Faster R-CNN backbone {self.backbone!r}; choose one of {BACKBONES}')
    if self.backbone == 'vgg16':
      vgg = VGG16C4(dtype=self.dtype, name='backbone')
      return vgg.features(images, train), vgg.head
    if self.backbone == 'tiny_fpn':
      stages = TinyBackbone(tuple(self.tiny_widths), self.dtype, name='backbone')(images, train)
      levels = FPN(self.fpn_features, extra_pool=False, dtype=self.dtype, name='fpn')(stages)
    else:
      stages, block = IMAGENET_RESNETS[int(self.backbone[6:-4])]
      _, out = ResNet(stages, block, include_top=False, dtype=self.dtype, name='backbone')(images, train)
      levels = FPN(self.fpn_features, dtype=self.dtype, name='fpn')([out[f'stage{i}'] for i in range(1, 5)])
    return levels, TwoMLPHead(self.representation, self.dtype, name='box_head')

  @nn.compact
  def __call__(self, images, train: bool = False, gt_boxes=None, gt_labels=None, gt_valid=None,
               image_hw: Optional[jnp.ndarray] = None) -> dict:
    batch, height, width = images.shape[:3]
    levels, box_head = self.levels(images.astype(self.dtype), train)
    sizes = self.anchor_sizes or (C4_SIZES if self.backbone == 'vgg16' else FPN_SIZES)
    if len(levels) != len(sizes):
      raise ValueError(f'{len(levels)} feature levels but {len(sizes)} anchor size groups')
    grids = [tuple(x.shape[1:3]) for x in levels]
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
    pooled_levels = levels[:4]  # FPN's P6 serves the RPN only
    pooled = jax.vmap(lambda feats, r: multilevel_roi_align(
        feats, strides[:len(pooled_levels)], r, self.roi_output_size, self.roi_sampling_ratio, self.roi_aligned,
        self.roi_canonical_scale, self.roi_canonical_level, self.roi_align_impl))(pooled_levels, rois)
    x = box_head(pooled.reshape(batch * rois.shape[1], -1), train)
    logits = nn.Dense(self.num_classes + 1, dtype=self.dtype, kernel_init=nn.initializers.normal(0.01),
                      name='cls_score')(x)
    box_deltas = nn.Dense(4 * (self.num_classes + 1), dtype=self.dtype, kernel_init=nn.initializers.normal(0.001),
                          name='bbox_pred')(x)
    outputs.update(rois=rois, class_logits=logits.reshape(batch, rois.shape[1], -1),
                   box_deltas=box_deltas.reshape(batch, rois.shape[1], -1, 4))
    return outputs
