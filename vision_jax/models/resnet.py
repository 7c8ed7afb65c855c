"""ResNets (He et al. 2016): ImageNet ResNet v1.5 18-152 (torchvision layout) and CIFAR ResNet-20-110.

v1.5 puts the stride of a downsampling bottleneck on its 3x3 convolution (torchvision,
NVIDIA), not on the first 1x1 as in the paper's v1. CIFAR ResNets use the paper's
section 4.2 design with shortcut option 'A' (parameter-free: stride-2 subsampling and
zero-padded channels) or 'B' (1x1 projection + BN when the shape changes).
Each model returns (logits, features) with named stage outputs for detection and probes.
"""

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import ConfigError
from vision_jax.models.layers import ConvChoice, batch_norm, conv, global_avg_pool, max_pool_same_as_torch


KERAS_BN_EPSILON = 1.001e-5


class BasicBlock(nn.Module):
  """Two 3x3 convolutions; the shortcut projects (1x1 conv + BN, option B) when the shape changes."""
  features: int
  strides: int = 1
  shortcut: str = 'B'
  dtype: Any = jnp.float32
  zero_init_last_bn: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    residual = x
    y = conv(self.features, 3, self.strides, self.dtype, name='conv1')(x)
    y = nn.relu(batch_norm(train, self.dtype, name='bn1')(y))
    y = conv(self.features, 3, 1, self.dtype, name='conv2')(y)
    last_init = nn.initializers.zeros if self.zero_init_last_bn else nn.initializers.ones
    y = batch_norm(train, self.dtype, name='bn2', scale_init=last_init)(y)
    if residual.shape != y.shape:
      residual = _shortcut(residual, self.features, self.strides, self.shortcut, train, self.dtype)
    return nn.relu(y + residual)


class Bottleneck(nn.Module):
  """1x1 reduce, 3x3 (carrying the stride: v1.5), 1x1 expand x4, projection shortcut.

  keras=True is Keras applications' ResNet50: the paper's v1 (stride on the first 1x1),
  convolutions with biases, BatchNorm eps 1.001e-5.
  """
  features: int
  strides: int = 1
  dtype: Any = jnp.float32
  zero_init_last_bn: bool = False
  keras: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    eps = KERAS_BN_EPSILON if self.keras else 1e-5
    stride_1x1, stride_3x3 = (self.strides, 1) if self.keras else (1, self.strides)
    residual = x
    y = conv(self.features, 1, stride_1x1, self.dtype, name='conv1', use_bias=self.keras)(x)
    y = nn.relu(batch_norm(train, self.dtype, name='bn1', epsilon=eps)(y))
    y = conv(self.features, 3, stride_3x3, self.dtype, name='conv2', use_bias=self.keras)(y)
    y = nn.relu(batch_norm(train, self.dtype, name='bn2', epsilon=eps)(y))
    y = conv(self.features * 4, 1, 1, self.dtype, name='conv3', use_bias=self.keras)(y)
    last_init = nn.initializers.zeros if self.zero_init_last_bn else nn.initializers.ones
    y = batch_norm(train, self.dtype, name='bn3', scale_init=last_init, epsilon=eps)(y)
    if residual.shape != y.shape:
      residual = ProjectionShortcut(self.features * 4, self.strides, self.dtype, self.keras,
                                    name='downsample')(residual, train)
    return nn.relu(y + residual)


class ProjectionShortcut(nn.Module):
  """Option B: 1x1 strided convolution + BN (torchvision's `downsample`; Keras's `_0_conv`)."""
  features: int
  strides: int
  dtype: Any = jnp.float32
  keras: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    x = conv(self.features, 1, self.strides, self.dtype, name='conv', padding='VALID', use_bias=self.keras)(x)
    return batch_norm(train, self.dtype, name='bn', epsilon=KERAS_BN_EPSILON if self.keras else 1e-5)(x)


def _shortcut(x, features: int, strides: int, option: str, train: bool, dtype):
  if option == 'A':
    x = x[:, ::strides, ::strides]
    extra = features - x.shape[-1]
    return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
  return ProjectionShortcut(features, strides, dtype, name='downsample')(x, train)


class ResNet(ConvChoice, nn.Module):
  """ImageNet ResNet: 7x7/2 stem + 3x3/2 max-pool, four stages of blocks, global pool, dense."""
  stage_sizes: Sequence[int]
  block: str = 'bottleneck'
  num_classes: int = 1000
  width: int = 64
  zero_init_last_bn: bool = False
  keras: bool = False  # Keras applications' ResNet50 (see Bottleneck)
  include_top: bool = True  # False: no pooling and classifier, logits None (a detection backbone)
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = {}
    x = x.astype(self.dtype)
    x = conv(self.width, 7, 2, self.dtype, name='conv1', use_bias=self.keras)(x)
    x = nn.relu(batch_norm(train, self.dtype, name='bn1', epsilon=KERAS_BN_EPSILON if self.keras else 1e-5)(x))
    out['stem'] = x
    x = max_pool_same_as_torch(x, 3, 2, 1)
    for i, num_blocks in enumerate(self.stage_sizes):
      for j in range(num_blocks):
        strides = 2 if i > 0 and j == 0 else 1
        features = self.width * 2 ** i
        name = f'layer{i + 1}_{j}'
        if self.block == 'basic':
          x = BasicBlock(features, strides, 'B', self.dtype, self.zero_init_last_bn, name=name)(x, train)
        else:
          x = Bottleneck(features, strides, self.dtype, self.zero_init_last_bn, self.keras, name=name)(x, train)
      out[f'stage{i + 1}'] = x
    if not self.include_top:
      return None, out
    x = global_avg_pool(x)
    out['pre_logits'] = x
    return nn.Dense(self.num_classes, dtype=self.dtype, name='fc')(x), out


class CifarResNet(ConvChoice, nn.Module):
  """He et al. 2016 section 4.2: 3x3 conv(16), three stages of n basic blocks (16/32/64), depth 6n+2."""
  depth: int = 20
  num_classes: int = 10
  shortcut: str = 'A'
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False):
    if (self.depth - 2) % 6:
      raise ConfigError(f'CIFAR ResNet depth must be 6n+2, got {self.depth}')
    n = (self.depth - 2) // 6
    out = {}
    x = x.astype(self.dtype)
    x = nn.relu(batch_norm(train, self.dtype, name='bn1')(conv(16, 3, 1, self.dtype, name='conv1')(x)))
    for i, features in enumerate((16, 32, 64)):
      for j in range(n):
        strides = 2 if i > 0 and j == 0 else 1
        x = BasicBlock(features, strides, self.shortcut, self.dtype, name=f'layer{i + 1}_{j}')(x, train)
      out[f'stage{i + 1}'] = x
    x = global_avg_pool(x)
    out['pre_logits'] = x
    return nn.Dense(self.num_classes, dtype=self.dtype, name='fc')(x), out


IMAGENET_RESNETS = {18: ([2, 2, 2, 2], 'basic'), 34: ([3, 4, 6, 3], 'basic'),
                    50: ([3, 4, 6, 3], 'bottleneck'), 101: ([3, 4, 23, 3], 'bottleneck'),
                    152: ([3, 8, 36, 3], 'bottleneck')}


def resnet(depth: int, **preset):
  """A constructor for ImageNet ResNet-`depth` that takes the remaining ResNet fields."""
  stages, block = IMAGENET_RESNETS[depth]

  def build(**kwargs):
    return ResNet(stage_sizes=stages, block=block, **preset, **kwargs)
  return build


def cifar_resnet(depth: int):
  def build(**kwargs):
    return CifarResNet(depth=depth, **kwargs)
  return build
