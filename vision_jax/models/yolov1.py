"""YOLOv1 (Redmon et al. 2016, "You Only Look Once"): a convolutional trunk and two fully connected
layers that map the whole image to an S x S grid; each cell predicts B boxes (x, y offsets of the
centre inside the cell, square roots of width and height relative to the image), B confidences and
one set of C class probabilities. Outputs are linear (the paper's last layer), every other layer
uses leaky ReLU 0.1, and dropout 0.5 follows the first fully connected layer.

The trunk is a string of layers: 'KxC' a KxK convolution to C channels, 'KxC/S' with stride S, 'M'
a 2x2 max-pool. YOLO24 is the paper's 24-layer network (Figure 3), FAST its 9-layer Fast YOLO.
Returns {'boxes': (N, S, S, B, 4) [x, y, sqrt w, sqrt h], 'confidence': (N, S, S, B),
'scores': (N, S, S, C)}.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from vision_jax.models.layers import Conv

YOLO24 = ('7x64/2 M 3x192 M 1x128 3x256 1x256 3x512 M ' + '1x256 3x512 ' * 4 + '1x512 3x1024 M '
          + '1x512 3x1024 ' * 2 + '3x1024 3x1024/2 3x1024 3x1024')
FAST = '3x16 M 3x32 M 3x64 M 3x128 M 3x256 M 3x512 M 3x1024 3x1024 3x256'
ARCHITECTURES = {'yolo': YOLO24, 'fast': FAST}


def parse_layer(token: str) -> tuple[int, int, int]:
  """'KxC' or 'KxC/S' -> (kernel, channels, stride)."""
  spec, _, stride = token.partition('/')
  kernel, channels = spec.split('x')
  return int(kernel), int(channels), int(stride or 1)


class YOLOv1(nn.Module):
  """See the module docstring. `layers` is one of ARCHITECTURES or a layer string; `width` scales
  every convolution's channels; batch_norm (not in the paper; YOLOv2 added it) trains faster."""
  num_classes: int = 20
  layers: str = 'yolo'
  width: float = 1.0
  grid_size: int = 7
  boxes_per_cell: int = 2
  hidden: int = 4096
  dropout: float = 0.5
  batch_norm: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False) -> dict:
    x = x.astype(self.dtype)
    for i, token in enumerate(ARCHITECTURES.get(self.layers, self.layers).split()):
      if token == 'M':
        x = nn.max_pool(x, (2, 2), (2, 2))
        continue
      kernel, channels, stride = parse_layer(token)
      pad = kernel // 2
      x = Conv(max(int(channels * self.width), 1), (kernel, kernel), (stride, stride), ((pad, pad), (pad, pad)),
                  use_bias=not self.batch_norm, dtype=self.dtype, name=f'conv{i}')(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-5, dtype=self.dtype,
                         name=f'bn{i}')(x)
      x = nn.leaky_relu(x, 0.1)
    x = nn.leaky_relu(nn.Dense(self.hidden, dtype=self.dtype, name='fc1')(x.reshape(x.shape[0], -1)), 0.1)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    s, b = self.grid_size, self.boxes_per_cell
    x = nn.Dense(s * s * (5 * b + self.num_classes), dtype=self.dtype, name='fc2')(x).reshape(-1, s, s, 5 * b + self.num_classes)
    return {'boxes': x[..., :4 * b].reshape(-1, s, s, b, 4), 'confidence': x[..., 4 * b:5 * b],
            'scores': x[..., 5 * b:]}
