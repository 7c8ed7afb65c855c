"""CSP-Darknet (YOLOv8's trunk) and its blocks, laid out as Ultralytics' yolov8.yaml so that their
state_dicts import: Conv-BN-SiLU with Ultralytics' BatchNorm (eps 1e-3, running-average momentum
0.03), C2f blocks and SPPF; module 'model_{i}' is their model.{i}. Sizes scale depth and width
(n: 0.33 / 0.25, s: 0.33 / 0.50, both capped at 1024 channels)."""

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import ConfigError
from vision_jax.models.layers import Conv

SCALES = {'n': (0.33, 0.25, 1024), 's': (0.33, 0.50, 1024), 'm': (0.67, 0.75, 768), 'l': (1.0, 1.0, 512),
          'x': (1.0, 1.25, 512)}


def channels(c: int, width: float, max_channels: int) -> int:
  """Ultralytics' width scaling: min(c, max_channels) * width rounded up to a multiple of 8."""
  return int(math.ceil(min(c, max_channels) * width / 8) * 8)


def repeats(n: int, depth: float) -> int:
  return max(round(n * depth), 1) if n > 1 else n


@dataclasses.dataclass(frozen=True)
class Scaling:
  """A model size's depth and width multipliers and channel cap (Ultralytics' scales)."""
  depth: float
  width: float
  max_channels: int

  @classmethod
  def of(cls, size: str, width=None, depth=None) -> 'Scaling':
    """The size's scaling with width and/or depth overridden (None or 0: the size's own)."""
    if size not in SCALES:
      raise ConfigError(f'YOLOv8 size must be one of {tuple(SCALES)}, got {size!r}')
    d, w, cap = SCALES[size]
    return cls(depth or d, width or w, cap)

  def ch(self, c: int) -> int:
    return channels(c, self.width, self.max_channels)

  def n(self, k: int) -> int:
    return repeats(k, self.depth)


class ConvBN(nn.Module):
  """Conv (no bias, 'same' padding k // 2) + BatchNorm + SiLU (act=False: no activation)."""
  features: int
  kernel: int = 1
  stride: int = 1
  act: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    pad = self.kernel // 2
    x = Conv(self.features, (self.kernel, self.kernel), (self.stride, self.stride), ((pad, pad), (pad, pad)),
             use_bias=False, dtype=self.dtype, name='conv')(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.97, epsilon=1e-3, dtype=self.dtype, name='bn')(x)
    return nn.silu(x) if self.act else x


class Bottleneck(nn.Module):
  features: int
  shortcut: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    y = ConvBN(self.features, 3, dtype=self.dtype, name='cv1')(x, train)
    y = ConvBN(self.features, 3, dtype=self.dtype, name='cv2')(y, train)
    return x + y if self.shortcut and x.shape[-1] == self.features else y


class C2f(nn.Module):
  """cv1 to 2c channels, split in two, n bottlenecks chained on the second half, all concatenated, cv2."""
  features: int
  n: int = 1
  shortcut: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    hidden = self.features // 2
    y = ConvBN(2 * hidden, 1, dtype=self.dtype, name='cv1')(x, train)
    parts = [y[..., :hidden], y[..., hidden:]]
    for i in range(self.n):
      parts.append(Bottleneck(hidden, self.shortcut, self.dtype, name=f'm_{i}')(parts[-1], train))
    return ConvBN(self.features, 1, dtype=self.dtype, name='cv2')(jnp.concatenate(parts, -1), train)


def max_pool_same(x, window: int):
  pad = window // 2
  return nn.max_pool(x, (window, window), (1, 1), ((pad, pad), (pad, pad)))


class SPPF(nn.Module):
  """cv1 to half the channels, three chained 5x5 max-pools, all four concatenated, cv2."""
  features: int
  window: int = 5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    y = [ConvBN(x.shape[-1] // 2, 1, dtype=self.dtype, name='cv1')(x, train)]
    for _ in range(3):
      y.append(max_pool_same(y[-1], self.window))
    return ConvBN(self.features, 1, dtype=self.dtype, name='cv2')(jnp.concatenate(y, -1), train)


class CSPDarknet(nn.Module):
  """yolov8.yaml's backbone (modules model_0 to model_9) -> levels {'C2'..'C5'} at strides 4-32
  (C5 after SPPF)."""
  size: str = 'n'
  width: float = 0.0   # 0: the size's own multiplier
  depth: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False) -> dict[str, jnp.ndarray]:
    s = Scaling.of(self.size, self.width, self.depth)
    x = x.astype(self.dtype)

    def conv(i, c):
      return ConvBN(s.ch(c), 3, 2, dtype=self.dtype, name=f'model_{i}')

    def c2f(i, c, k):
      return C2f(s.ch(c), s.n(k), True, self.dtype, name=f'model_{i}')

    x = conv(1, 128)(conv(0, 64)(x, train), train)
    c2 = c2f(2, 128, 3)(x, train)
    c3 = c2f(4, 256, 6)(conv(3, 256)(c2, train), train)
    c4 = c2f(6, 512, 6)(conv(5, 512)(c3, train), train)
    x = c2f(8, 1024, 3)(conv(7, 1024)(c4, train), train)
    c5 = SPPF(s.ch(1024), dtype=self.dtype, name='model_9')(x, train)
    return {'C2': c2, 'C3': c3, 'C4': c4, 'C5': c5}
