"""VGG-11/13/16/19 (Simonyan & Zisserman 2015), with or without BatchNorm, in torchvision's layout.

Convolutions are named conv{block}_{index} (conv4_3 is the layer SSD taps). The 'imagenet'
head is torchvision's: adaptive 7x7 average pool, fc 4096-4096 with dropout, fc classes.
The 'cifar' head is a single dense layer on the 1x1x512 features of a 32x32 input.
"""

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import ConfigError
from vision_jax.models.layers import Conv, ConvChoice, adaptive_avg_pool, batch_norm

# Channels per block; each block ends in a 2x2 max-pool.
VGG_BLOCKS = {
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    19: [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
}
HEADS = ('imagenet', 'cifar')


class VGG(ConvChoice, nn.Module):
  blocks: Sequence[Sequence[int]]
  num_classes: int = 1000
  batch_norm: bool = False
  head: str = 'imagenet'
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.head not in HEADS:
      raise ConfigError(f'VGG head must be one of {HEADS}, got {self.head!r}')
    out = {}
    x = x.astype(self.dtype)
    for b, widths in enumerate(self.blocks):
      for i, width in enumerate(widths):
        name = f'conv{b + 1}_{i + 1}'
        # torchvision VGG convolutions: bias, kaiming-normal fan-out init.
        x = Conv(width, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=name,
                    kernel_init=nn.initializers.variance_scaling(2.0, 'fan_out', 'normal'))(x)
        if self.batch_norm:
          x = batch_norm(train, self.dtype, name=f'bn{b + 1}_{i + 1}')(x)
        x = nn.relu(x)
        out[name] = x
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
      out[f'pool{b + 1}'] = x
    if self.head == 'imagenet':
      x = adaptive_avg_pool(x, 7).reshape((x.shape[0], -1))
      for j in (6, 7):
        x = nn.relu(nn.Dense(4096, dtype=self.dtype, name=f'fc{j}',
                             kernel_init=nn.initializers.normal(0.01))(x))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    else:
      x = x.reshape((x.shape[0], -1))
    out['pre_logits'] = x
    logits = nn.Dense(self.num_classes, dtype=self.dtype, name='fc8',
                      kernel_init=nn.initializers.normal(0.01))(x)
    return logits, out


def vgg(depth: int, with_batch_norm: bool):
  def build(**kwargs):
    return VGG(blocks=VGG_BLOCKS[depth], batch_norm=with_batch_norm, **kwargs)
  return build
