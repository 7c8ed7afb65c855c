"""Context-encoder generator (Pathak et al. 2016) for 32x32 inpainting: a strided-conv encoder of
the masked image and its mask, a bottleneck, and a transposed-conv decoder back to the full image
(tanh). Train it with generative/masks.masked_l2 plus an adversarial loss from a DCGAN discriminator."""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.models import layers
from vision_jax.models.dcgan import INIT


class ContextEncoder(nn.Module):
  """(masked images (B, S, S, C), masks (B, S, S, 1)) -> completions (B, S, S, C) in [-1, 1]."""
  widths: Sequence[int] = (32, 64, 128)
  bottleneck: int = 256
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, masked, masks, train: bool = True):
    channels = masked.shape[-1]
    x = jnp.concatenate([masked, masks], axis=-1).astype(self.dtype)
    for i, width in enumerate(self.widths):
      x = layers.Conv(width, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), kernel_init=INIT, dtype=self.dtype,
                  name=f'enc{i}')(x)
      if i > 0:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name=f'enc_bn{i}')(x)
      x = nn.leaky_relu(x, 0.2)
    x = layers.Conv(self.bottleneck, x.shape[1:3], padding='VALID', kernel_init=INIT, dtype=self.dtype,
                name='bottleneck')(x)  # a channel-wise fully connected code (1x1 spatial)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name='code_bn')(x))
    size = masked.shape[1] // 2 ** len(self.widths)
    x = layers.ConvTranspose(self.widths[-1], (size, size), padding='VALID', kernel_init=INIT, dtype=self.dtype,
                         name='expand')(x)
    for i, width in enumerate(reversed(self.widths[:-1])):
      x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name=f'dec_bn{i}')(x))
      x = layers.ConvTranspose(width, (4, 4), strides=(2, 2), padding='SAME', kernel_init=INIT, dtype=self.dtype,
                           name=f'dec{i}')(x)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name='out_bn')(x))
    x = layers.ConvTranspose(channels, (4, 4), strides=(2, 2), padding='SAME', kernel_init=INIT, dtype=self.dtype,
                         name='to_image')(x)
    return jnp.tanh(x.astype(jnp.float32))
