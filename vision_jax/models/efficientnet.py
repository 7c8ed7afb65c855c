"""EfficientNet-Lite0 (Tan & Le 2019; the 'lite' variant for mobile accelerators).

Lite differs from EfficientNet-B0: no squeeze-and-excitation, ReLU6 instead of swish,
and a stem (32) and head (1280) that are not scaled. Padding is TensorFlow 'SAME' (Flax's
'SAME' is the same rule), because the released weights were trained in TensorFlow.
BatchNorm: epsilon 1e-3, momentum 0.99, as in the reference.
"""

import functools
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vision_jax.models.layers import Conv, ConvChoice, DepthwiseConv, batch_norm, global_avg_pool

# (expand_ratio, kernel, stride, out_channels, repeats) per stage.
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


def _conv(features, kernel, strides=1, dtype=jnp.float32, name=None):
  return Conv(features, (kernel, kernel), strides=(strides, strides), padding='SAME', use_bias=False,
                 dtype=dtype, name=name,
                 kernel_init=nn.initializers.variance_scaling(2.0, 'fan_out', 'normal'))


def _bn(train, dtype, momentum, name):
  return batch_norm(train, dtype, name=name, epsilon=1e-3, momentum=momentum)


def drop_path(x, rate: float, deterministic: bool, rng_collection: str, module: nn.Module):
  """Stochastic depth: zeroes whole examples of a residual branch with probability `rate`."""
  if deterministic or rate == 0.0:
    return x
  keep = 1.0 - rate
  mask = jax.random.bernoulli(module.make_rng(rng_collection), keep, (x.shape[0], 1, 1, 1))
  return jnp.where(mask, x / keep, 0.0).astype(x.dtype)


class MBConv(nn.Module):
  """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity skip when shapes match."""
  expand_ratio: int
  kernel: int
  strides: int
  features: int
  drop_path_rate: float = 0.0
  depthwise_impl: str = 'auto'
  bn_momentum: float = 0.99
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    inputs = x
    bn = functools.partial(_bn, train, self.dtype, self.bn_momentum)
    channels = x.shape[-1] * self.expand_ratio
    if self.expand_ratio != 1:
      x = nn.relu6(bn('expand_bn')(_conv(channels, 1, dtype=self.dtype, name='expand_conv')(x)))
    x = DepthwiseConv(self.kernel, self.strides, self.depthwise_impl, self.dtype, name='depthwise_conv')(x)
    x = nn.relu6(bn('depthwise_bn')(x))
    x = bn('project_bn')(_conv(self.features, 1, dtype=self.dtype, name='project_conv')(x))
    if self.strides == 1 and inputs.shape[-1] == self.features:
      x = drop_path(x, self.drop_path_rate, not train, 'dropout', self) + inputs
    return x


class EfficientNetLite(ConvChoice, nn.Module):
  stages: Sequence[tuple[int, int, int, int, int]] = LITE0_STAGES
  num_classes: int = 1000
  dropout_rate: float = 0.2
  drop_path_rate: float = 0.2
  depthwise_impl: str = 'auto'  # see layers.DepthwiseConv
  bn_momentum: float = 0.99  # running-average momentum; short runs from scratch need less (0.9)
  include_top: bool = True  # False: no head conv, pooling or classifier, logits None (a detection backbone)
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = {}
    bn = functools.partial(_bn, train, self.dtype, self.bn_momentum)
    x = x.astype(self.dtype)
    x = nn.relu6(bn('stem_bn')(_conv(32, 3, 2, dtype=self.dtype, name='stem_conv')(x)))
    total = sum(stage[-1] for stage in self.stages)
    index = 0
    for s, (expand, kernel, stride, features, repeats) in enumerate(self.stages):
      for r in range(repeats):
        x = MBConv(expand, kernel, stride if r == 0 else 1, features,
                   self.drop_path_rate * index / total, self.depthwise_impl, self.bn_momentum, self.dtype,
                   name=f'block{index}')(x, train)
        index += 1
      out[f'stage{s + 1}'] = x
    if not self.include_top:
      return None, out
    x = nn.relu6(bn('head_bn')(_conv(1280, 1, dtype=self.dtype, name='head_conv')(x)))
    out['head'] = x
    x = global_avg_pool(x)
    out['pre_logits'] = x
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, dtype=self.dtype, name='fc')(x), out
