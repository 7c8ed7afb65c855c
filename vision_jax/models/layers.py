"""Building blocks shared by the CNN families: PyTorch-compatible padding, BatchNorm, pooling."""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp


def symmetric_padding(kernel_size: int, dilation: int = 1) -> list[tuple[int, int]]:
  """PyTorch-style explicit padding (k-1)/2 on every side: Flax 'SAME' pads asymmetrically at
  stride 2, which would shift features and break equivalence with imported weights."""
  pad = dilation * (kernel_size - 1) // 2
  return [(pad, pad), (pad, pad)]


def conv(features: int, kernel_size: int, strides: int = 1, dtype: Any = jnp.float32, name: str = None,
         use_bias: bool = False, groups: int = 1, dilation: int = 1, padding=None) -> nn.Conv:
  """A square convolution with symmetric padding and He (fan-out) init, as torchvision's CNNs."""
  return nn.Conv(features, (kernel_size, kernel_size), strides=(strides, strides),
                 padding=symmetric_padding(kernel_size, dilation) if padding is None else padding,
                 kernel_dilation=(dilation, dilation), feature_group_count=groups, use_bias=use_bias,
                 dtype=dtype, kernel_init=nn.initializers.variance_scaling(2.0, 'fan_out', 'normal'),
                 name=name)


def batch_norm(train: bool, dtype: Any = jnp.float32, name: str = None, epsilon: float = 1e-5,
               momentum: float = 0.9, scale_init=nn.initializers.ones):
  """BatchNorm with PyTorch's defaults (eps 1e-5, running-average momentum 0.1 = Flax 0.9).

  `use_running_average` is passed at call time, not construction, so that transfer learning
  can switch frozen layers to their running statistics (weights/transfer.py)."""
  module = nn.BatchNorm(momentum=momentum, epsilon=epsilon, dtype=dtype, scale_init=scale_init, name=name)
  return functools.partial(module, use_running_average=not train)


def max_pool_same_as_torch(x, window: int, stride: int, pad: int):
  """MaxPool2d(window, stride, padding=pad): padding with -inf, as PyTorch does."""
  return nn.max_pool(x, (window, window), strides=(stride, stride), padding=((pad, pad), (pad, pad)))


def adaptive_avg_pool(x, output_size: int):
  """PyTorch AdaptiveAvgPool2d for NHWC: bin i spans [floor(i*H/out), ceil((i+1)*H/out))."""
  h, w = x.shape[1], x.shape[2]
  if h == output_size and w == output_size:
    return x

  def bins(size):
    return [(i * size // output_size, -(-(i + 1) * size // output_size)) for i in range(output_size)]
  rows = [jnp.stack([x[:, r0:r1, c0:c1].mean(axis=(1, 2)) for c0, c1 in bins(w)], axis=1)
          for r0, r1 in bins(h)]
  return jnp.stack(rows, axis=1)


global_avg_pool = functools.partial(jnp.mean, axis=(1, 2))
