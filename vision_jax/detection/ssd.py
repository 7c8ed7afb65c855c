"""SSD (Liu et al. 2016) as a detector family: a backbone's feature levels, extra layers, and per-map
3x3 heads that predict, for every default box, 4 offsets and C+1 class logits (0 = background);
default boxes from config.default_boxes, matching inside the jitted step (config.matching), the
MultiBox loss with hard negatives, and per-class NMS (config.nms) to padded detections.

Variants (config.model.name): SSD300/SSD512 on VGG-16 as released (backbone 'vgg16_ssd'); SSD on
zoo backbones, ResNet and EfficientNet-Lite0 at levels C4 and C5; with head='ssdlite', extras and
heads are depthwise-separable (SSDLite, Sandler et al. 2018); 'ssd_tiny' for the digit scenes.
The network returns ((loc (B, P, 4), logits (B, P, C+1)), features) with the pyramid as 'source0',
'source1', ... in the order the default boxes are generated.
"""

import functools
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax import models
from vision_jax.detection.boxes import clip
from vision_jax.detection.coders import decode_ssd
from vision_jax.detection.default_boxes import default_boxes, spec_from_config
from vision_jax.detection.detector import DETECTORS, Detector
from vision_jax.detection.matching import batch_match
from vision_jax.detection.nms import batched_per_class_nms
from vision_jax.detection.losses import smooth_l1
from vision_jax.errors import ConfigError, UserError
from vision_jax.models.backbones import BACKBONES, trunk_levels, xavier_conv
from vision_jax.models.layers import Conv, ConvChoice, DepthwiseConv, batch_norm
from vision_jax.registry import Registry

# Extra layers: (1x1 channels, 3x3 channels, kernel, stride, padding) per added feature map.
SSD300_EXTRAS = ((256, 512, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 1, 0), (128, 256, 3, 1, 0))
SSD512_EXTRAS = ((256, 512, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 2, 1),
                 (128, 256, 4, 1, 1))
LIGHT_EXTRAS = ((256, 512, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 2, 1), (64, 128, 3, 2, 1))
HEADS = ('conv', 'ssdlite')


class SeparableConv(nn.Module):
  """Depthwise kxk + BN + ReLU6, then a 1x1 convolution: SSDLite's replacement for a kxk conv."""
  features: int
  strides: int = 1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = DepthwiseConv(3, self.strides, dtype=self.dtype, name='depthwise')(x)
    x = nn.relu6(batch_norm(train, self.dtype, name='depthwise_bn')(x))
    return Conv(self.features, (1, 1), dtype=self.dtype, name='pointwise')(x)


class SSD(ConvChoice, nn.Module):
  """See the module docstring. num_classes counts object classes, background excluded; levels names
  the backbone levels used as sources (empty: all of them)."""
  num_classes: int = 20
  backbone: str = 'vgg16_ssd'
  levels: Sequence[str] = ()
  backbone_args: Sequence[tuple[str, Any]] = ()
  extras: Sequence[Sequence[int]] = SSD300_EXTRAS
  boxes_per_location: Sequence[int] = (4, 6, 6, 6, 4, 4)
  head: str = 'conv'
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.head not in HEADS:
      raise ConfigError(f'SSD head must be one of {HEADS}, got {self.head!r}')
    x = x.astype(self.dtype)
    _, sources = trunk_levels(self.backbone, self.levels, self.backbone_args, self.dtype, x, train)
    for k, (mid, out, kernel, strides, padding) in enumerate(self.extras):
      x = nn.relu(xavier_conv(mid, 1, dtype=self.dtype, name=f'extra{k}_1')(sources[-1]))
      if self.head == 'ssdlite' and kernel == 3:
        x = nn.relu6(SeparableConv(out, strides, self.dtype, name=f'extra{k}_2')(x, train))
      else:
        x = nn.relu(xavier_conv(out, kernel, strides, padding, dtype=self.dtype, name=f'extra{k}_2')(x))
      sources.append(x)
    if len(sources) != len(self.boxes_per_location):
      raise ConfigError(f'{len(sources)} feature maps but boxes_per_location has {len(self.boxes_per_location)} entries')
    locs, logits, features = [], [], {}
    for k, (source, n) in enumerate(zip(sources, self.boxes_per_location)):
      features[f'source{k}'] = source
      if self.head == 'ssdlite':
        loc = SeparableConv(n * 4, dtype=self.dtype, name=f'loc{k}')(source, train)
        cls = SeparableConv(n * (self.num_classes + 1), dtype=self.dtype, name=f'cls{k}')(source, train)
      else:
        loc = xavier_conv(n * 4, 3, padding=1, dtype=self.dtype, name=f'loc{k}')(source)
        cls = xavier_conv(n * (self.num_classes + 1), 3, padding=1, dtype=self.dtype, name=f'cls{k}')(source)
      locs.append(loc.reshape(loc.shape[0], -1, 4))
      logits.append(cls.reshape(cls.shape[0], -1, self.num_classes + 1))
    return (jnp.concatenate(locs, 1), jnp.concatenate(logits, 1)), features


# config.model.name -> the SSD network with that variant's fields (the rest of config.model overrides).
VARIANTS: Registry = Registry('SSD model')
VARIANTS.register('ssd300_vgg16')(functools.partial(SSD, backbone='vgg16_ssd'))
VARIANTS.register('ssd512_vgg16')(functools.partial(SSD, backbone='vgg16_ssd', extras=SSD512_EXTRAS,
                                                    boxes_per_location=(4, 6, 6, 6, 6, 4, 4)))
VARIANTS.register('ssd_resnet50')(functools.partial(SSD, backbone='resnet50', levels=('C4', 'C5'),
                                                    extras=LIGHT_EXTRAS, boxes_per_location=(4, 6, 6, 6, 4, 4)))
VARIANTS.register('ssdlite_efficientnet_lite0')(functools.partial(
    SSD, backbone='efficientnet_lite0', levels=('C4', 'C5'), head='ssdlite', extras=LIGHT_EXTRAS,
    boxes_per_location=(4, 6, 6, 6, 4, 4)))
VARIANTS.register('ssd_tiny')(functools.partial(SSD, backbone='tiny_xavier', extras=((64, 128, 3, 2, 1), (64, 128, 3, 2, 1)),
                                                boxes_per_location=(4, 6, 6, 6, 4)))


def hard_negatives(background_loss: jnp.ndarray, positive: jnp.ndarray, ratio: float) -> jnp.ndarray:
  """(B, P) bool: per image, the ratio * num_positive negatives with the highest background loss."""
  loss = jnp.where(positive, -jnp.inf, background_loss)
  rank = jnp.argsort(jnp.argsort(-loss, axis=1), axis=1)  # 0 = hardest
  num_neg = jnp.minimum(ratio * positive.sum(axis=1, keepdims=True), positive.shape[1] - positive.sum(
      axis=1, keepdims=True))
  return (rank < num_neg) & ~positive


def multibox_loss(loc_pred: jnp.ndarray, cls_logits: jnp.ndarray, loc_targets: jnp.ndarray,
                  cls_targets: jnp.ndarray, neg_pos_ratio: float = 3.0) -> dict[str, jnp.ndarray]:
  """SSD's MultiBox loss: smooth-L1 on positive boxes plus softmax cross-entropy on positives and the
  hardest negatives (3 per positive), both normalised by the batch's number of positives (at least 1).
  loc_pred/loc_targets (B, P, 4), cls_logits (B, P, C+1), cls_targets (B, P) with 0 = background.
  Returns {'loss', 'loc_loss', 'cls_loss', 'num_positive'} (losses already normalised)."""
  cls_logits = cls_logits.astype(jnp.float32)
  positive = cls_targets > 0
  num_pos = jnp.maximum(positive.sum(), 1).astype(jnp.float32)
  loc = jnp.sum(smooth_l1(loc_pred.astype(jnp.float32) - loc_targets) * positive[..., None])
  ce = optax.softmax_cross_entropy_with_integer_labels(cls_logits, cls_targets)
  background_loss = jax.lax.stop_gradient(-jax.nn.log_softmax(cls_logits)[..., 0])
  selected = positive | hard_negatives(background_loss, positive, neg_pos_ratio)
  cls = jnp.sum(ce * selected)
  return {'loss': (loc + cls) / num_pos, 'loc_loss': loc / num_pos, 'cls_loss': cls / num_pos,
          'num_positive': positive.sum()}


def postprocess(loc_pred: jnp.ndarray, cls_logits: jnp.ndarray, priors: jnp.ndarray,
                score_threshold: float = 0.01, iou_threshold: float = 0.45, pre_nms_top_k: int = 200,
                max_detections: int = 200) -> dict[str, jnp.ndarray]:
  """Batched SSD inference output: softmax, decode, clip, per-class NMS (IoU 0.45, score 0.01,
  top 200), as the released SSD. Returns {'boxes', 'scores', 'labels', 'valid'} of shape (B, D, ...)."""
  scores = jax.nn.softmax(cls_logits.astype(jnp.float32), axis=-1)[..., 1:]
  boxes = clip(decode_ssd(loc_pred.astype(jnp.float32), priors))
  return batched_per_class_nms(boxes, scores, score_threshold, iou_threshold, pre_nms_top_k, max_detections)


def network(model_config, num_classes: int) -> nn.Module:
  """The SSD variant config.model.name names, with config.model's other keys as its fields."""
  return models.instantiate(VARIANTS.get(model_config.name), model_config, num_classes)


def model_config_with_boxes(config):
  """config.model with as many boxes per location as config.default_boxes asks."""
  model_config = config.model.copy_and_resolve_references()
  with model_config.unlocked():
    model_config.boxes_per_location = tuple(2 + 2 * len(r) for r in config.default_boxes.aspect_ratios)
  return model_config


def priors_for(config, model: nn.Module, image_shape: tuple[int, ...]) -> np.ndarray:
  """(P, 4) center-form default boxes for the model's actual feature maps at this input size."""
  _, features = jax.eval_shape(lambda x: model.init_with_output(jax.random.PRNGKey(0), x)[0],
                               jnp.zeros((1, *image_shape)))
  maps = [features[f'source{k}'].shape[1] for k in range(len(features))]
  try:
    return default_boxes(spec_from_config(config.default_boxes, image_shape[0], maps))
  except ValueError as e:
    raise UserError(f'config.default_boxes does not fit {config.model.name}: {e}') from None


@DETECTORS.register('ssd')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """SSD's Detector: model(images) -> (loc offsets (B, P, 4), class logits (B, P, C + 1))."""
  model = network(model_config_with_boxes(config), num_classes)
  priors = jnp.asarray(priors_for(config, model, image_shape))
  matching, nms = config.matching, config.nms
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)

  def loss(outputs, batch, rng):
    (loc, logits), _ = outputs
    loc_targets, cls_targets = batch_match(batch['boxes'], batch['labels'], batch['box_valid'], priors,
                                           matching.iou_threshold)
    losses = multibox_loss(loc, logits, loc_targets, cls_targets, matching.neg_pos_ratio)
    return losses['loss'], {**losses, 'num_positive': losses['num_positive'].astype(jnp.float32)}

  def postprocess_outputs(outputs):
    (loc, logits), _ = outputs
    detections = postprocess(loc, logits, priors, nms.score_threshold, nms.iou_threshold, nms.pre_nms_top_k,
                             nms.max_detections)
    return {**detections, 'boxes': detections['boxes'] * input_scale}

  return Detector(model=model, loss=loss, postprocess=postprocess_outputs,
                  backbone=BACKBONES.get(model.backbone).classifier)
