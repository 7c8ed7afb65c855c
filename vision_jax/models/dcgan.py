"""DCGAN generator and discriminator (Radford et al. 2016) for 32x32 and 64x64 images, 1 or 3 channels.

G: a dense projection of z to 4x4xC, then stride-2 transposed convolutions halving the channels,
BatchNorm + ReLU everywhere except the tanh output. D: stride-2 convolutions with LeakyReLU 0.2,
BatchNorm everywhere except the input layer, and a linear output (logits). Weights are N(0, 0.02).
Optional: class conditioning (a label embedding in G, a projection term in D, Miyato & Koyama
2018) and spectral normalisation in D (Miyato et al. 2018).
"""

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import UserError
from vision_jax.models import layers

INIT = nn.initializers.normal(0.02)
SUPPORTED_SIZES = (32, 64)


def check_image_size(image_size: int) -> None:
  if image_size not in SUPPORTED_SIZES:
    raise UserError(f'DCGAN supports image sizes {SUPPORTED_SIZES}, got {image_size}')


def _widths(base: Sequence[int], image_size: int) -> tuple[int, ...]:
  """Channel widths of the upsampling stages: 32x32 takes the last three of `base`, 64x64 four."""
  check_image_size(image_size)
  stages = {32: 3, 64: 4}[image_size]
  return tuple(base[-stages:]) if len(base) >= stages else tuple(base) + (base[-1] // 2,) * (stages - len(base))


class Generator(layers.ConvChoice, nn.Module):
  """z (B, latent) [+ labels (B,)] -> images (B, S, S, channels) in [-1, 1]."""
  image_size: int = 32
  channels: int = 1
  widths: Sequence[int] = (512, 256, 128, 64)  # from 4x4 upwards; 32x32 uses the last three
  num_classes: int = 0                         # > 0: class-conditional
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, z, labels: Optional[jnp.ndarray] = None, train: bool = True):
    widths = _widths(self.widths, self.image_size)
    x = z.astype(self.dtype)
    if self.num_classes:
      x = jnp.concatenate([x, nn.Embed(self.num_classes, z.shape[-1], embedding_init=INIT, name='embed')(labels)], -1)
    x = nn.Dense(4 * 4 * widths[0], kernel_init=INIT, use_bias=False, dtype=self.dtype, name='project')(x)
    x = x.reshape(x.shape[0], 4, 4, widths[0])
    x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name='bn0')(x))
    for i, width in enumerate(widths[1:]):
      x = layers.ConvTranspose(width, (4, 4), strides=(2, 2), padding='SAME', use_bias=False, kernel_init=INIT,
                           dtype=self.dtype, name=f'up{i + 1}')(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name=f'bn{i + 1}')(x))
    x = layers.ConvTranspose(self.channels, (4, 4), strides=(2, 2), padding='SAME', kernel_init=INIT,
                         dtype=self.dtype, name='to_image')(x)
    return jnp.tanh(x.astype(jnp.float32))


class Discriminator(layers.ConvChoice, nn.Module):
  """images (B, S, S, channels) [+ labels] -> logits (B,)."""
  image_size: int = 32
  widths: Sequence[int] = (64, 128, 256, 512)  # from the input downwards; 32x32 uses the first three
  num_classes: int = 0
  spectral_norm: bool = False
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  def _layer(self, module: nn.Module, train: bool):
    if self.spectral_norm:
      wrapped = nn.SpectralNorm(module)
      return lambda x: wrapped(x, update_stats=train)
    return module

  @nn.compact
  def __call__(self, x, labels: Optional[jnp.ndarray] = None, train: bool = True):
    check_image_size(self.image_size)
    widths = tuple(self.widths)[:{32: 3, 64: 4}[self.image_size]]
    x = x.astype(self.dtype)
    for i, width in enumerate(widths):
      conv = layers.Conv(width, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), kernel_init=INIT,
                     use_bias=i == 0, dtype=self.dtype, name=f'down{i}')
      x = self._layer(conv, train)(x)
      if i > 0 and not self.spectral_norm:  # spectral norm replaces BatchNorm in D
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name=f'bn{i}')(x)
      x = nn.leaky_relu(x, 0.2)
    features = x.reshape(x.shape[0], -1)
    logits = self._layer(nn.Dense(1, kernel_init=INIT, dtype=self.dtype, name='logit'), train)(features)[:, 0]
    if self.num_classes:
      embed = nn.Embed(self.num_classes, features.shape[-1], embedding_init=INIT, name='embed')(labels)
      logits = logits + jnp.sum(embed * features, axis=-1)
    return logits.astype(jnp.float32)
