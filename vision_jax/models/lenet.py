"""LeNet-5-style CNN (LeCun et al. 1998) with ReLU and max pooling, for 28x28-ish grey images."""

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp
from vision_jax.errors import ConfigError
from vision_jax.models.layers import Conv, ConvChoice

MIN_SIDE = 12   # SAME conv, pool /2, VALID 5x5 conv, pool /2: (12 // 2 - 4) // 2 = 1


class LeNet5(ConvChoice, nn.Module):
  """conv(5x5, SAME) -> pool -> conv(5x5, VALID) -> pool -> dense x2 -> logits.

  The first convolution is SAME-padded, which equals the paper's zero-padding of
  MNIST's 28x28 digits to 32x32. Returns (logits, features) where features holds
  named intermediates for probes and transfer.
  """
  num_classes: int = 10
  features: Sequence[int] = (6, 16)
  hidden: Sequence[int] = (120, 84)
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = {}
    if min(x.shape[1:3]) < MIN_SIDE:
      raise ConfigError(f'LeNet-5 needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels (its last pooling would be empty), '
                        f'got {x.shape[1]}x{x.shape[2]}: raise dataset.image_size')
    x = x.astype(self.dtype)
    for i, width in enumerate(self.features):
      padding = 'SAME' if i == 0 else 'VALID'
      x = Conv(width, (5, 5), padding=padding, dtype=self.dtype, name=f'conv{i + 1}')(x)
      x = nn.relu(x)
      out[f'conv{i + 1}'] = x
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    for j, width in enumerate(self.hidden):
      x = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'fc{j + 1}')(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    out['pre_logits'] = x
    logits = nn.Dense(self.num_classes, dtype=self.dtype, name='head')(x)
    return logits, out
