"""SSD detectors (Liu et al. 2016): a backbone's feature pyramid, extra layers, and per-map 3x3
heads that predict, for every default box, 4 offsets and C+1 class logits (0 = background).

- SSD300/SSD512 on VGG-16 as released: ceil-mode pools, pool5 3x3 stride 1, fc6 as a 3x3 conv
  with 1024 channels and dilation 6, fc7 as a 1x1 conv, L2Norm on conv4_3 (scale initialised to 20).
  VGG convolutions keep torchvision's conv{b}_{i} names, so ImageNet VGG-16 weights load.
- SSD on zoo backbones: ResNet (stage3, stage4) and EfficientNet-Lite0 (stage5, stage7); with
  head='ssdlite', extras and heads are depthwise-separable (SSDLite, Sandler et al. 2018).
Returns ((loc (B, P, 4), logits (B, P, C+1)), features) with the pyramid as 'source0', 'source1', ...
in the order the default boxes are generated.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.models.efficientnet import EfficientNetLite
from vision_jax.models.layers import Conv, DepthwiseConv, batch_norm
from vision_jax.models.resnet import IMAGENET_RESNETS, ResNet
from vision_jax.models.vgg import VGG_BLOCKS

# Extra layers: (1x1 channels, 3x3 channels, kernel, stride, padding) per added feature map.
SSD300_EXTRAS = ((256, 512, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 1, 0), (128, 256, 3, 1, 0))
SSD512_EXTRAS = ((256, 512, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 2, 1),
                 (128, 256, 4, 1, 1))
BACKBONES = ('vgg16', 'resnet18', 'resnet34', 'resnet50', 'efficientnet_lite0', 'tiny')
HEADS = ('conv', 'ssdlite')


def ceil_max_pool(x, window: int = 2, stride: int = 2, pad: int = 0):
  """MaxPool2d(window, stride, pad, ceil_mode=True): odd sizes keep their last row and column."""
  def extra(size):
    return (-(size + 2 * pad - window) % stride)
  padding = ((pad, pad + extra(x.shape[1])), (pad, pad + extra(x.shape[2])))
  return nn.max_pool(x, (window, window), strides=(stride, stride), padding=padding)


class L2Norm(nn.Module):
  """Channel-wise L2 normalisation with a learned per-channel scale (ParseNet), as SSD's conv4_3."""
  scale_init: float = 20.0

  @nn.compact
  def __call__(self, x):
    scale = self.param('scale', nn.initializers.constant(self.scale_init), (x.shape[-1],))
    norm = jnp.sqrt(jnp.sum(jnp.square(x.astype(jnp.float32)), axis=-1, keepdims=True)) + 1e-10
    return (x / norm * scale).astype(x.dtype)


def _conv(features, kernel, strides=1, padding=0, dilation=1, dtype=jnp.float32, name=None):
  return Conv(features, (kernel, kernel), strides=(strides, strides), padding=((padding, padding),) * 2,
                 kernel_dilation=(dilation, dilation), dtype=dtype, name=name,
                 kernel_init=nn.initializers.xavier_uniform())


class VGG16Base(nn.Module):
  """VGG-16 convolutions + SSD's conv6 (dilated fc6) and conv7 (fc7); sources conv4_3 (L2Norm), conv7."""
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    sources = []
    for b, widths in enumerate(VGG_BLOCKS[16]):
      for i, width in enumerate(widths):
        x = nn.relu(Conv(width, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=f'conv{b + 1}_{i + 1}')(x))
      if b == 3:
        sources.append(L2Norm(name='conv4_3_norm')(x))
      x = ceil_max_pool(x) if b < 4 else ceil_max_pool(x, 3, 1, 1)
    x = nn.relu(_conv(1024, 3, padding=6, dilation=6, dtype=self.dtype, name='conv6')(x))
    x = nn.relu(_conv(1024, 1, dtype=self.dtype, name='conv7')(x))
    return sources + [x]


class TinyBase(nn.Module):
  """A small CPU-friendly base for the bundled digit scenes: a stride-2 stem, then BN conv blocks
  each halving the resolution; every block's output is a source (strides 4, 8, 16)."""
  stem: int = 16
  widths: Sequence[int] = (32, 64, 128)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = _conv(self.stem, 3, 2, 1, dtype=self.dtype, name='stem')(x)
    x = nn.relu(batch_norm(train, self.dtype, name='stem_bn')(x))
    sources = []
    for b, width in enumerate(self.widths):
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
      for i in range(2):
        x = _conv(width, 3, padding=1, dtype=self.dtype, name=f'conv{b + 1}_{i + 1}')(x)
        x = nn.relu(batch_norm(train, self.dtype, name=f'bn{b + 1}_{i + 1}')(x))
      sources.append(x)
    return sources


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


class SSD(nn.Module):
  """See the module docstring. num_classes counts object classes, background excluded."""
  num_classes: int = 20
  backbone: str = 'vgg16'
  extras: Sequence[Sequence[int]] = SSD300_EXTRAS
  boxes_per_location: Sequence[int] = (4, 6, 6, 6, 4, 4)
  head: str = 'conv'
  dtype: Any = jnp.float32

  def backbone_sources(self, x, train: bool) -> list:
    if self.backbone == 'vgg16':
      return VGG16Base(self.dtype, name='backbone')(x, train)
    if self.backbone == 'tiny':
      return TinyBase(dtype=self.dtype, name='backbone')(x, train)
    if self.backbone.startswith('resnet'):
      stages, block = IMAGENET_RESNETS[int(self.backbone[6:])]
      _, out = ResNet(stages, block, include_top=False, dtype=self.dtype, name='backbone')(x, train)
      return [out['stage3'], out['stage4']]
    _, out = EfficientNetLite(include_top=False, dtype=self.dtype, name='backbone')(x, train)
    return [out['stage5'], out['stage7']]

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.backbone not in BACKBONES or self.head not in HEADS:
      raise ValueError(f'SSD backbone must be one of {BACKBONES} and head one of {HEADS}, '
                       f'got {self.backbone!r}, {self.head!r}')
    x = x.astype(self.dtype)
    sources = self.backbone_sources(x, train)
    for k, (mid, out, kernel, strides, padding) in enumerate(self.extras):
      x = nn.relu(_conv(mid, 1, dtype=self.dtype, name=f'extra{k}_1')(sources[-1]))
      if self.head == 'ssdlite' and kernel == 3:
        x = nn.relu6(SeparableConv(out, strides, self.dtype, name=f'extra{k}_2')(x, train))
      else:
        x = nn.relu(_conv(out, kernel, strides, padding, dtype=self.dtype, name=f'extra{k}_2')(x))
      sources.append(x)
    if len(sources) != len(self.boxes_per_location):
      raise ValueError(f'{len(sources)} feature maps but boxes_per_location has {len(self.boxes_per_location)} entries')
    locs, logits, features = [], [], {}
    for k, (source, n) in enumerate(zip(sources, self.boxes_per_location)):
      features[f'source{k}'] = source
      if self.head == 'ssdlite':
        loc = SeparableConv(n * 4, dtype=self.dtype, name=f'loc{k}')(source, train)
        cls = SeparableConv(n * (self.num_classes + 1), dtype=self.dtype, name=f'cls{k}')(source, train)
      else:
        loc = _conv(n * 4, 3, padding=1, dtype=self.dtype, name=f'loc{k}')(source)
        cls = _conv(n * (self.num_classes + 1), 3, padding=1, dtype=self.dtype, name=f'cls{k}')(source)
      locs.append(loc.reshape(loc.shape[0], -1, 4))
      logits.append(cls.reshape(cls.shape[0], -1, self.num_classes + 1))
    return (jnp.concatenate(locs, 1), jnp.concatenate(logits, 1)), features
