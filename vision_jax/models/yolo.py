"""The YOLOv8 detector design (anchor-free, decoupled head), laid out as Ultralytics' yolov8.yaml so
that a state_dict of theirs imports (weights/ultralytics.py): module 'model_{i}' is their model.{i}.

Backbone: CSP-Darknet with C2f blocks and SPPF; neck: PAN-FPN; head: per level (strides 8, 16, 32;
with p2, yolov8-p2.yaml's 4, 8, 16, 32)
a box branch of 4 x reg_max distribution logits (DFL) and a class branch of logits. Sizes scale
depth and width (n: 0.33 / 0.25, s: 0.33 / 0.50, both capped at 1024 channels). Convolutions are
Conv-BN-SiLU with Ultralytics' BatchNorm (eps 1e-3, running-average momentum 0.03).
Returns {'boxes': (B, A, 4 * reg_max) logits, 'scores': (B, A, C) logits} over all levels'
locations A (level, row, column order), as their Detect head's raw outputs.
"""

import math
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp
from vision_jax.models.layers import Conv

SCALES = {'n': (0.33, 0.25, 1024), 's': (0.33, 0.50, 1024), 'm': (0.67, 0.75, 768), 'l': (1.0, 1.0, 512),
          'x': (1.0, 1.25, 512)}
STRIDES = (8, 16, 32)
P2_STRIDES = (4, 8, 16, 32)


def level_strides(p2: bool = False) -> tuple[int, ...]:
  """The detection levels' strides: P3-P5, or P2-P5 for yolov8-p2.yaml (small objects)."""
  return P2_STRIDES if p2 else STRIDES


def channels(c: int, width: float, max_channels: int) -> int:
  """Ultralytics' width scaling: min(c, max_channels) * width rounded up to a multiple of 8."""
  return int(math.ceil(min(c, max_channels) * width / 8) * 8)


def repeats(n: int, depth: float) -> int:
  return max(round(n * depth), 1) if n > 1 else n


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


def upsample2(x):
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class DetectBranch(nn.Module):
  """Two 3x3 ConvBN and a 1x1 conv with bias: Ultralytics' cv2[i] (boxes) or legacy cv3[i] (classes)."""
  hidden: int
  outputs: int
  bias: float = 0.0  # the output conv's initial bias
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = ConvBN(self.hidden, 3, dtype=self.dtype, name='0')(x, train)
    x = ConvBN(self.hidden, 3, dtype=self.dtype, name='1')(x, train)
    return Conv(self.outputs, (1, 1), dtype=self.dtype, bias_init=nn.initializers.constant(self.bias), name='2')(x)


class YOLOv8(nn.Module):
  """See the module docstring. num_classes counts object classes (no background)."""
  num_classes: int = 80
  size: str = 'n'
  width: Optional[float] = None   # overrides the size's width multiplier (e.g. 0.125 for CPU demos)
  depth: Optional[float] = None   # overrides the size's depth multiplier
  reg_max: int = 16
  p2: bool = False                # Ultralytics' yolov8-p2.yaml: a fourth, stride-4 level for small objects
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False) -> dict:
    if self.size not in SCALES:
      raise ValueError(f'YOLOv8 size must be one of {tuple(SCALES)}, got {self.size!r}')
    depth, width, cap = SCALES[self.size]
    depth, width = self.depth or depth, self.width or width
    ch = lambda c: channels(c, width, cap)  # noqa: E731
    n = lambda k: repeats(k, depth)  # noqa: E731
    x = x.astype(self.dtype)

    def conv(i, c, k=3, s=2):
      return ConvBN(ch(c), k, s, dtype=self.dtype, name=f'model_{i}')

    def c2f(i, c, k, shortcut):
      return C2f(ch(c), n(k), shortcut, self.dtype, name=f'model_{i}')

    x = conv(0, 64)(x, train)
    x = conv(1, 128)(x, train)
    p2 = c2f(2, 128, 3, True)(x, train)
    x = conv(3, 256)(p2, train)
    p3 = c2f(4, 256, 6, True)(x, train)
    x = conv(5, 512)(p3, train)
    p4 = c2f(6, 512, 6, True)(x, train)
    x = conv(7, 1024)(p4, train)
    x = c2f(8, 1024, 3, True)(x, train)
    p5 = SPPF(ch(1024), dtype=self.dtype, name='model_9')(x, train)
    h4 = c2f(12, 512, 3, False)(jnp.concatenate([upsample2(p5), p4], -1), train)
    h3 = c2f(15, 256, 3, False)(jnp.concatenate([upsample2(h4), p3], -1), train)
    outputs, i = [h3], 16     # the module index where the bottom-up path starts
    if self.p2:
      outputs = [c2f(18, 128, 3, False)(jnp.concatenate([upsample2(h3), p2], -1), train)]
      outputs.append(c2f(21, 256, 3, False)(jnp.concatenate([conv(19, 128)(outputs[-1], train), h3], -1), train))
      i = 22
    for lateral, c in ((h4, 512), (p5, 1024)):
      down = conv(i, c // 2)(outputs[-1], train)
      outputs.append(c2f(i + 2, c, 3, False)(jnp.concatenate([down, lateral], -1), train))
      i += 3
    return DetectHead(self.num_classes, self.reg_max, level_strides(self.p2), self.dtype, name=f'model_{i}')(
        outputs, train)


class DetectHead(nn.Module):
  """Ultralytics' Detect (legacy v8 form): per level a box branch (cv2_i) and a class branch (cv3_i)."""
  num_classes: int
  reg_max: int = 16
  strides: Sequence[int] = STRIDES
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, levels: Sequence[jnp.ndarray], train: bool = False) -> dict:
    box_hidden = max(16, levels[0].shape[-1] // 4, 4 * self.reg_max)
    cls_hidden = max(levels[0].shape[-1], min(self.num_classes, 100))
    boxes, scores = [], []
    for i, (x, stride) in enumerate(zip(levels, self.strides)):
      # Ultralytics' bias_init: box logits start at 2; class logits at about 0.01 objects per
      # 640-px image, spread over the classes and the level's locations.
      cls_bias = math.log(5 / self.num_classes / (640 / stride) ** 2)
      b = DetectBranch(box_hidden, 4 * self.reg_max, 2.0, self.dtype, name=f'cv2_{i}')(x, train)
      c = DetectBranch(cls_hidden, self.num_classes, cls_bias, self.dtype, name=f'cv3_{i}')(x, train)
      boxes.append(b.reshape(b.shape[0], -1, b.shape[-1]))
      scores.append(c.reshape(c.shape[0], -1, c.shape[-1]))
    return {'boxes': jnp.concatenate(boxes, 1), 'scores': jnp.concatenate(scores, 1)}
