"""Detection backbones: trunks that return named feature levels, from one registry, so any detector
takes any backbone that has the levels it needs.

A level 'C<k>' has stride 2**k (C3: stride 8). `BACKBONES.get(name)` gives a Backbone: its module
(built as module(dtype=..., name='backbone'), called (images, train)), how to read its levels from
what the module returns, and the zoo classifier whose pretrained weights fit params['backbone']
(init_from), if any. The family modules in vision_jax/detection/ add necks (models/necks.py).
"""

import dataclasses
import functools
from typing import Any, Callable, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import ConfigError
from vision_jax.models.csp import CSPDarknet
from vision_jax.models.efficientnet import EfficientNetLite
from vision_jax.models.layers import Conv, batch_norm, conv
from vision_jax.models.resnet import IMAGENET_RESNETS, ResNet
from vision_jax.models.vgg import VGG_BLOCKS
from vision_jax.registry import Registry


def _identity(features):
  return features


@dataclasses.dataclass(frozen=True)
class Backbone:
  """module(dtype=, name=) -> a flax module called (images, train); levels(its output) -> {'C<k>':
  features} in stride order; classifier: the zoo model whose weights params['backbone'] takes."""
  module: Callable[..., nn.Module]
  levels: Callable[[Any], dict] = _identity
  classifier: Optional[str] = None
  rcnn_box_head: bool = False  # the module's `head` method is the C4 Faster R-CNN box head


def renamed(names: dict[str, str]) -> Callable[[Any], dict]:
  """levels() of a classifier trunk returning (None, features): {'C<k>': features[its name]}."""
  def levels(output):
    return {level: output[1][name] for level, name in names.items()}
  return levels


BACKBONES: Registry[Backbone] = Registry('backbone')


def xavier_conv(features, kernel, strides=1, padding=0, dilation=1, dtype=jnp.float32, name=None):
  """A biased square convolution with Xavier-uniform init (SSD's released layers)."""
  return Conv(features, (kernel, kernel), strides=(strides, strides), padding=((padding, padding),) * 2,
              kernel_dilation=(dilation, dilation), dtype=dtype, name=name,
              kernel_init=nn.initializers.xavier_uniform())


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


class VGG16SSD(nn.Module):
  """SSD's VGG-16 as released: ceil-mode pools, pool5 3x3 stride 1, fc6 as a 3x3 conv with 1024
  channels and dilation 6 (conv6), fc7 as a 1x1 conv (conv7); levels C3 (conv4_3 with L2Norm,
  scale initialised to 20) and C4 (conv7). Convolutions keep torchvision's conv{b}_{i} names."""
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False) -> dict[str, jnp.ndarray]:
    x = x.astype(self.dtype)
    levels = {}
    for b, widths in enumerate(VGG_BLOCKS[16]):
      for i, width in enumerate(widths):
        x = nn.relu(Conv(width, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=f'conv{b + 1}_{i + 1}')(x))
      if b == 3:
        levels['C3'] = L2Norm(name='conv4_3_norm')(x)
      x = ceil_max_pool(x) if b < 4 else ceil_max_pool(x, 3, 1, 1)
    x = nn.relu(xavier_conv(1024, 3, padding=6, dilation=6, dtype=self.dtype, name='conv6')(x))
    levels['C4'] = nn.relu(xavier_conv(1024, 1, dtype=self.dtype, name='conv7')(x))
    return levels


class VGG16C4(nn.Module):
  """VGG-16's convolutions to conv5_3 (level C4, no pool5) and its fc6/fc7 as the box head
  (`head`), under VGG's own names so ImageNet VGG-16 weights load (Faster R-CNN, Ren et al. 2015)."""
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  def setup(self):
    self.convs = [[Conv(w, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=f'conv{b + 1}_{i + 1}')
                   for i, w in enumerate(widths)] for b, widths in enumerate(VGG_BLOCKS[16])]
    self.fc6 = nn.Dense(4096, dtype=self.dtype)
    self.fc7 = nn.Dense(4096, dtype=self.dtype)
    self.dropout = nn.Dropout(self.dropout_rate)

  def __call__(self, x, train: bool = False) -> dict[str, jnp.ndarray]:
    x = x.astype(self.dtype)
    for b, block in enumerate(self.convs):
      for layer in block:
        x = nn.relu(layer(x))
      if b < 4:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    return {'C4': x}

  def head(self, x, train: bool = False):
    x = x.reshape(x.shape[0], -1)
    x = self.dropout(nn.relu(self.fc6(x)), deterministic=not train)
    return self.dropout(nn.relu(self.fc7(x)), deterministic=not train)


class Tiny(nn.Module):
  """A small CPU-friendly trunk for the bundled digit scenes: a stride-2 stem, then per width a 2x2
  max-pool and two BN conv layers; levels C2, C3, C4 (strides 4, 8, 16). xavier: biased convolutions
  with Xavier init (the SSD demo's), else He init without bias (torchvision's style)."""
  widths: Sequence[int] = (32, 64, 128)
  stem: int = 16
  xavier: bool = False
  dtype: Any = jnp.float32

  def conv(self, features, strides, name):
    if self.xavier:
      return xavier_conv(features, 3, strides, 1, dtype=self.dtype, name=name)
    return conv(features, 3, strides, self.dtype, name=name)

  @nn.compact
  def __call__(self, x, train: bool = False) -> dict[str, jnp.ndarray]:
    x = x.astype(self.dtype)
    x = nn.relu(batch_norm(train, self.dtype, name='stem_bn')(self.conv(self.stem, 2, 'stem')(x)))
    levels = {}
    for b, width in enumerate(self.widths):
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
      for i in range(2):
        x = self.conv(width, 1, f'conv{b + 1}_{i + 1}')(x)
        x = nn.relu(batch_norm(train, self.dtype, name=f'bn{b + 1}_{i + 1}')(x))
      levels[f'C{b + 2}'] = x
    return levels


RESNET_LEVELS = renamed({'C2': 'stage1', 'C3': 'stage2', 'C4': 'stage3', 'C5': 'stage4'})
for _depth, (_stages, _block) in IMAGENET_RESNETS.items():
  BACKBONES.register(f'resnet{_depth}')(Backbone(
      functools.partial(ResNet, _stages, _block, include_top=False), RESNET_LEVELS, f'resnet{_depth}'))
BACKBONES.register('efficientnet_lite0')(Backbone(
    functools.partial(EfficientNetLite, include_top=False),
    renamed({'C2': 'stage2', 'C3': 'stage3', 'C4': 'stage5', 'C5': 'stage7'}), 'efficientnet_lite0'))
BACKBONES.register('vgg16_ssd')(Backbone(VGG16SSD, classifier='vgg16'))
BACKBONES.register('vgg16_c4')(Backbone(VGG16C4, classifier='vgg16', rcnn_box_head=True))
BACKBONES.register('tiny')(Backbone(Tiny))
BACKBONES.register('tiny_xavier')(Backbone(functools.partial(Tiny, xavier=True)))
BACKBONES.register('csp_darknet')(Backbone(CSPDarknet))


def select(levels: dict, names: Sequence[str], backbone: str) -> list:
  """The levels named (all, in stride order, when names is empty); a ValueError naming the backbone's
  levels when it lacks one."""
  missing = [n for n in names if n not in levels]
  if missing:
    raise ConfigError(f'backbone {backbone!r} has levels {", ".join(levels)}, not {", ".join(missing)}')
  return [levels[n] for n in (names or levels)]


def trunk_levels(name: str, names: Sequence[str], args: Sequence[tuple[str, Any]], dtype: Any, images,
                 train: bool) -> tuple[nn.Module, list]:
  """Inside a detector's compact method: the registered backbone `name` built as its submodule
  'backbone' (with the trunk's own fields `args`) and the levels `names` of images (select)."""
  backbone = BACKBONES.get(name)
  trunk = backbone.module(dtype=dtype, name='backbone', **dict(args))
  return trunk, select(backbone.levels(trunk(images, train)), names, name)
