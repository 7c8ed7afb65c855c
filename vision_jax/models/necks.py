"""Necks: networks that turn a trunk's feature levels into the levels a detector's heads read.

FPN (Lin et al. 2017; torchvision's FeaturePyramidNetwork): lateral 1x1 and output 3x3
    convolutions with a nearest top-down path, plus max-pooled extra levels.
PAN (YOLOv8's PAN-FPN, laid out as Ultralytics' yolov8.yaml / yolov8-p2.yaml modules model_10 on):
    a top-down path of C2f blocks on upsampled levels, then a bottom-up path of stride-2 convolutions.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from vision_jax.models.csp import C2f, ConvBN, Scaling
from vision_jax.models.layers import Conv

TORCH_CONV_INIT = nn.initializers.variance_scaling(1.0, 'fan_in', 'uniform')  # kaiming_uniform(a=1)


def nearest_upsample(x: jnp.ndarray, hw: tuple[int, int]) -> jnp.ndarray:
  """PyTorch's F.interpolate(mode='nearest', size=hw): source index floor(i * in / out)."""
  rows = (np.arange(hw[0]) * x.shape[1]) // hw[0]
  cols = (np.arange(hw[1]) * x.shape[2]) // hw[1]
  return x[:, rows][:, :, cols]


class FPN(nn.Module):
  """Lateral 1x1 and output 3x3 convolutions with a nearest top-down path; extra_pools adds levels
  that max-pool the last one with stride 2 (torchvision's LastLevelMaxPool, Faster R-CNN's P6);
  extra_convs adds levels by stride-2 3x3 convolutions, the first on the last output, each next on
  the ReLU of the one before (torchvision's LastLevelP6P7: RetinaNet's P6 and P7)."""
  features: int = 256
  extra_pools: int = 0
  extra_convs: int = 0
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
    for _ in range(self.extra_pools):
      outputs.append(outputs[-1][:, ::2, ::2])  # max_pool2d(kernel 1, stride 2)
    for k in range(self.extra_convs):
      x = outputs[-1] if k == 0 else nn.relu(outputs[-1])
      outputs.append(Conv(self.features, (3, 3), (2, 2), ((1, 1), (1, 1)), dtype=self.dtype, kernel_init=TORCH_CONV_INIT,
                          name=f'extra{k}')(x))
    return outputs


def upsample2(x):
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class PAN(nn.Module):
  """YOLOv8's neck over CSPDarknet's levels: outputs at strides 8, 16, 32 (with p2, 4 to 32), each a
  C2f block's output. Modules are named model_{i} with Ultralytics' indices (model_10 to model_21,
  or model_24 with p2); `next_index` is the index of the module after it (the Detect head)."""
  size: str = 'n'
  width: float = 0.0
  depth: float = 0.0
  p2: bool = False
  dtype: Any = jnp.float32

  @property
  def next_index(self) -> int:
    return 28 if self.p2 else 22

  @nn.compact
  def __call__(self, levels: dict[str, jnp.ndarray], train: bool = False) -> list[jnp.ndarray]:
    s = Scaling.of(self.size, self.width, self.depth)

    def conv(i, c):
      return ConvBN(s.ch(c), 3, 2, dtype=self.dtype, name=f'model_{i}')

    def c2f(i, c):
      return C2f(s.ch(c), s.n(3), False, self.dtype, name=f'model_{i}')

    p5 = levels['C5']
    h4 = c2f(12, 512)(jnp.concatenate([upsample2(p5), levels['C4']], -1), train)
    h3 = c2f(15, 256)(jnp.concatenate([upsample2(h4), levels['C3']], -1), train)
    outputs, i = [h3], 16     # the module index where the bottom-up path starts
    if self.p2:
      outputs = [c2f(18, 128)(jnp.concatenate([upsample2(h3), levels['C2']], -1), train)]
      outputs.append(c2f(21, 256)(jnp.concatenate([conv(19, 128)(outputs[-1], train), h3], -1), train))
      i = 22
    for lateral, c in ((h4, 512), (p5, 1024)):
      down = conv(i, c // 2)(outputs[-1], train)
      outputs.append(c2f(i + 2, c)(jnp.concatenate([down, lateral], -1), train))
      i += 3
    return outputs
