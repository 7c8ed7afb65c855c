"""Image-to-image translation networks of pix2pix and CycleGAN (Isola et al. 2017; Zhu et al. 2017),
after the authors' models/networks.py: the U-Net generator, the ResNet generator and the PatchGAN
discriminator. Weights are N(0, 0.02) as there; `norm` is 'batch', 'instance' or 'none'.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import UserError
from vision_jax.models import layers

INIT = nn.initializers.normal(0.02)
NORMS = ('batch', 'instance', 'none')


def normalize(norm: str, train: bool, name: str, dtype: Any):
  """The norm layer of the reference code: BatchNorm (running stats at eval), InstanceNorm (no
  affine, as nn.InstanceNorm2d's default), or identity."""
  if norm == 'batch':
    return layers.batch_norm(train, dtype=dtype, name=name)
  if norm == 'instance':
    return nn.GroupNorm(num_groups=None, group_size=1, epsilon=1e-5, use_scale=False, use_bias=False,
                        dtype=dtype, name=name)
  if norm == 'none':
    return lambda x: x
  raise UserError(f'unknown norm {norm!r}; choose one of: {", ".join(NORMS)}')


def _conv(features: int, kernel: int, stride: int, pad: int, dtype, name: str, use_bias: bool = True):
  return layers.Conv(features, (kernel, kernel), strides=(stride, stride), padding=((pad, pad), (pad, pad)),
                 use_bias=use_bias, kernel_init=INIT, dtype=dtype, name=name)


class PatchGAN(nn.Module):
  """(images (B, H, W, C), labels ignored) -> a map of real/fake logits, one per overlapping patch.

  num_layers 3 (the default): each logit sees a 70x70 patch of the input (pix2pix's 70x70 PatchGAN:
  C64-C128-C256-C512, 4x4 convolutions, LeakyReLU 0.2, no norm on the first layer)."""
  width: int = 64
  num_layers: int = 3
  norm: str = 'batch'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, labels=None, train: bool = True):
    del labels  # the adversarial step passes labels; patches are judged without them
    use_bias = self.norm != 'batch'  # the reference drops the bias before BatchNorm
    x = nn.leaky_relu(_conv(self.width, 4, 2, 1, self.dtype, 'conv0')(images.astype(self.dtype)), 0.2)
    for i in range(1, self.num_layers + 1):
      stride = 2 if i < self.num_layers else 1
      x = _conv(self.width * min(2 ** i, 8), 4, stride, 1, self.dtype, f'conv{i}', use_bias)(x)
      x = nn.leaky_relu(normalize(self.norm, train, f'norm{i}', self.dtype)(x), 0.2)
    return _conv(1, 4, 1, 1, self.dtype, 'logits')(x).astype(jnp.float32)


class UNet(nn.Module):
  """images (B, S, S, C_in) -> images (B, S, S, out_channels) in [-1, 1]; S divisible by 2^len(widths).

  Encoder: 4x4 stride-2 convolutions of `widths` (LeakyReLU 0.2; no norm on the first and the
  innermost); decoder: 4x4 stride-2 transposed convolutions back up (ReLU), each concatenated with
  the encoder's feature map of the same size (the skip connections), dropout 0.5 after the
  `dropout_blocks` decoder blocks that follow the innermost one (pix2pix's noise; on with
  train=True). Biases only without BatchNorm, as the reference. The paper's 256 px generator:
  widths (64, 128, 256, 512, 512, 512, 512, 512), 3 dropout blocks."""
  widths: Sequence[int] = (64, 128, 256, 512, 512, 512, 512, 512)
  out_channels: int = 3
  norm: str = 'batch'
  dropout_blocks: int = 3
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool = True):
    levels = len(self.widths)
    if images.shape[1] % 2 ** levels or images.shape[2] % 2 ** levels:
      raise UserError(f'a U-Net with {levels} levels needs image sides divisible by {2 ** levels}, '
                      f'got {images.shape[1]}x{images.shape[2]}')
    use_bias = self.norm != 'batch'
    x, skips = images.astype(self.dtype), []
    for i, width in enumerate(self.widths):
      if i > 0:
        x = nn.leaky_relu(x, 0.2)
      x = _conv(width, 4, 2, 1, self.dtype, f'down{i}', use_bias)(x)
      if 0 < i < levels - 1:
        x = normalize(self.norm, train, f'down_norm{i}', self.dtype)(x)
      skips.append(x)
    for j, width in enumerate(reversed(self.widths[:-1])):
      x = nn.relu(x if j == 0 else jnp.concatenate([x, skips[levels - 1 - j]], axis=-1))
      x = layers.ConvTranspose(width, (4, 4), strides=(2, 2), padding='SAME', use_bias=use_bias,
                               kernel_init=INIT, dtype=self.dtype, name=f'up{j}')(x)
      x = normalize(self.norm, train, f'up_norm{j}', self.dtype)(x)
      if 1 <= j <= self.dropout_blocks:  # the blocks around the innermost one, not itself
        x = nn.Dropout(0.5, deterministic=not train)(x)
    x = nn.relu(jnp.concatenate([x, skips[0]], axis=-1))
    x = layers.ConvTranspose(self.out_channels, (4, 4), strides=(2, 2), padding='SAME', kernel_init=INIT,
                             dtype=self.dtype, name='to_image')(x)
    return jnp.tanh(x.astype(jnp.float32))


def reflect(x, pad: int):
  """Reflection padding of the spatial sides (nn.ReflectionPad2d)."""
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


class ResNetGenerator(nn.Module):
  """images (B, S, S, C_in) -> images (B, S, S, out_channels) in [-1, 1]: CycleGAN's generator
  (Johnson et al. 2016's design): c7s1-w, two stride-2 downsamplings, `num_blocks` residual blocks
  (reflection-padded 3x3 convolutions), two stride-2 transposed upsamplings, c7s1-out, tanh. The
  paper: 6 blocks at 128 px, 9 at 256, instance norm, width 64."""
  width: int = 64
  num_blocks: int = 9
  out_channels: int = 3
  norm: str = 'instance'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool = True):
    use_bias = self.norm != 'batch'
    norm = lambda name: normalize(self.norm, train, name, self.dtype)
    x = _conv(self.width, 7, 1, 0, self.dtype, 'stem', use_bias)(reflect(images.astype(self.dtype), 3))
    x = nn.relu(norm('stem_norm')(x))
    for i in range(2):
      x = _conv(self.width * 2 ** (i + 1), 3, 2, 1, self.dtype, f'down{i}', use_bias)(x)
      x = nn.relu(norm(f'down_norm{i}')(x))
    for b in range(self.num_blocks):
      y = nn.relu(norm(f'block{b}_norm0')(_conv(x.shape[-1], 3, 1, 0, self.dtype, f'block{b}_conv0', use_bias)(reflect(x, 1))))
      y = norm(f'block{b}_norm1')(_conv(x.shape[-1], 3, 1, 0, self.dtype, f'block{b}_conv1', use_bias)(reflect(y, 1)))
      x = x + y
    for i in range(2):
      x = layers.ConvTranspose(self.width * 2 ** (1 - i), (3, 3), strides=(2, 2), padding='SAME',
                               use_bias=use_bias, kernel_init=INIT, dtype=self.dtype, name=f'up{i}')(x)
      x = nn.relu(norm(f'up_norm{i}')(x))
    x = _conv(self.out_channels, 7, 1, 0, self.dtype, 'to_image')(reflect(x, 3))
    return jnp.tanh(x.astype(jnp.float32))
