"""Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture"), torchvision layout.

Module names follow torchvision (Conv2d_1a_3x3, Mixed_5b/branch1x1, ...), so its state_dict
maps by name. Two switches cover the other weight sources: Keras InceptionV3 has no BatchNorm
scale (`bn_scale=False`) and average-pools without counting padding (`pool_include_pad=False`),
as does the TF graph behind FID. The auxiliary classifier is not built (it only adds a training
loss). Input 299x299, normalised to [-1, 1] for the Google-trained weights. `fid=True` with
pool_include_pad=False is pytorch-fid's FID network (its weights use torchvision's names). Returns
(logits, features) with each block's output and 'pool' (the 2,048-d pool3 features of FID).
"""

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.models.layers import Conv, ConvChoice, batch_norm, global_avg_pool


class BasicConv(nn.Module):
  """Convolution (no bias) + BatchNorm (eps 1e-3) + ReLU; 'same' padding is symmetric (k-1)/2."""
  features: int
  kernel: Sequence[int] = (1, 1)
  strides: int = 1
  same: bool = True
  bn_scale: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    padding = [((k - 1) // 2, (k - 1) // 2) for k in self.kernel] if self.same else 'VALID'
    x = Conv(self.features, tuple(self.kernel), strides=(self.strides, self.strides), padding=padding,
                use_bias=False, dtype=self.dtype, name='conv',
                kernel_init=nn.initializers.truncated_normal(0.1))(x)
    return nn.relu(batch_norm(train, self.dtype, name='bn', epsilon=1e-3, use_scale=self.bn_scale)(x))


class Branches(nn.Module):
  """Shared plumbing of the Inception blocks: named convs and the 3x3 pools."""
  bn_scale: bool = True
  pool_include_pad: bool = True
  dtype: Any = jnp.float32

  def conv(self, name: str, features: int, kernel=(1, 1), strides: int = 1, same: bool = True):
    return BasicConv(features, kernel, strides, same, self.bn_scale, self.dtype, name=name)

  def avg_pool(self, x):
    return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)),
                       count_include_pad=self.pool_include_pad)


def max_pool_3x3_s2(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2))


class InceptionA(Branches):
  pool_features: int = 32

  @nn.compact
  def __call__(self, x, train: bool):
    b1 = self.conv('branch1x1', 64)(x, train)
    b5 = self.conv('branch5x5_2', 64, (5, 5))(self.conv('branch5x5_1', 48)(x, train), train)
    b3 = self.conv('branch3x3dbl_1', 64)(x, train)
    b3 = self.conv('branch3x3dbl_3', 96, (3, 3))(self.conv('branch3x3dbl_2', 96, (3, 3))(b3, train), train)
    bp = self.conv('branch_pool', self.pool_features)(self.avg_pool(x), train)
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(Branches):
  @nn.compact
  def __call__(self, x, train: bool):
    b3 = self.conv('branch3x3', 384, (3, 3), 2, same=False)(x, train)
    bd = self.conv('branch3x3dbl_2', 96, (3, 3))(self.conv('branch3x3dbl_1', 64)(x, train), train)
    bd = self.conv('branch3x3dbl_3', 96, (3, 3), 2, same=False)(bd, train)
    return jnp.concatenate([b3, bd, max_pool_3x3_s2(x)], axis=-1)


class InceptionC(Branches):
  channels_7x7: int = 128

  @nn.compact
  def __call__(self, x, train: bool):
    c7 = self.channels_7x7
    b1 = self.conv('branch1x1', 192)(x, train)
    b7 = self.conv('branch7x7_1', c7)(x, train)
    b7 = self.conv('branch7x7_3', 192, (7, 1))(self.conv('branch7x7_2', c7, (1, 7))(b7, train), train)
    bd = self.conv('branch7x7dbl_1', c7)(x, train)
    for i, (features, kernel) in enumerate([(c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)), (192, (1, 7))]):
      bd = self.conv(f'branch7x7dbl_{i + 2}', features, kernel)(bd, train)
    bp = self.conv('branch_pool', 192)(self.avg_pool(x), train)
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(Branches):
  @nn.compact
  def __call__(self, x, train: bool):
    b3 = self.conv('branch3x3_2', 320, (3, 3), 2, same=False)(self.conv('branch3x3_1', 192)(x, train), train)
    b7 = self.conv('branch7x7x3_1', 192)(x, train)
    b7 = self.conv('branch7x7x3_3', 192, (7, 1))(self.conv('branch7x7x3_2', 192, (1, 7))(b7, train), train)
    b7 = self.conv('branch7x7x3_4', 192, (3, 3), 2, same=False)(b7, train)
    return jnp.concatenate([b3, b7, max_pool_3x3_s2(x)], axis=-1)


class InceptionE(Branches):
  max_pool_branch: bool = False  # pytorch-fid's FIDInceptionE_2 (Mixed_7c) max-pools its pool branch

  @nn.compact
  def __call__(self, x, train: bool):
    b1 = self.conv('branch1x1', 320)(x, train)
    b3 = self.conv('branch3x3_1', 384)(x, train)
    b3 = jnp.concatenate([self.conv('branch3x3_2a', 384, (1, 3))(b3, train),
                          self.conv('branch3x3_2b', 384, (3, 1))(b3, train)], axis=-1)
    bd = self.conv('branch3x3dbl_2', 384, (3, 3))(self.conv('branch3x3dbl_1', 448)(x, train), train)
    bd = jnp.concatenate([self.conv('branch3x3dbl_3a', 384, (1, 3))(bd, train),
                          self.conv('branch3x3dbl_3b', 384, (3, 1))(bd, train)], axis=-1)
    pooled = (nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1))) if self.max_pool_branch
              else self.avg_pool(x))
    bp = self.conv('branch_pool', 192)(pooled, train)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


# (name, block, extra constructor arguments), in order after the stem.
BLOCKS = (('Mixed_5b', InceptionA, {'pool_features': 32}), ('Mixed_5c', InceptionA, {'pool_features': 64}),
          ('Mixed_5d', InceptionA, {'pool_features': 64}), ('Mixed_6a', InceptionB, {}),
          ('Mixed_6b', InceptionC, {'channels_7x7': 128}), ('Mixed_6c', InceptionC, {'channels_7x7': 160}),
          ('Mixed_6d', InceptionC, {'channels_7x7': 160}), ('Mixed_6e', InceptionC, {'channels_7x7': 192}),
          ('Mixed_7a', InceptionD, {}), ('Mixed_7b', InceptionE, {}), ('Mixed_7c', InceptionE, {}))


STEM = ('Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3')
# Each block's convolutions in torchvision's (and Keras's) creation order, for importers.
BRANCH_ORDER = {
    InceptionA: ('branch1x1', 'branch5x5_1', 'branch5x5_2', 'branch3x3dbl_1', 'branch3x3dbl_2',
                 'branch3x3dbl_3', 'branch_pool'),
    InceptionB: ('branch3x3', 'branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3'),
    InceptionC: ('branch1x1', 'branch7x7_1', 'branch7x7_2', 'branch7x7_3', 'branch7x7dbl_1', 'branch7x7dbl_2',
                 'branch7x7dbl_3', 'branch7x7dbl_4', 'branch7x7dbl_5', 'branch_pool'),
    InceptionD: ('branch3x3_1', 'branch3x3_2', 'branch7x7x3_1', 'branch7x7x3_2', 'branch7x7x3_3', 'branch7x7x3_4'),
    InceptionE: ('branch1x1', 'branch3x3_1', 'branch3x3_2a', 'branch3x3_2b', 'branch3x3dbl_1', 'branch3x3dbl_2',
                 'branch3x3dbl_3a', 'branch3x3dbl_3b', 'branch_pool'),
}


def basic_conv_paths() -> list[str]:
  """Every BasicConv's module path ('Mixed_5b/branch1x1'), in creation order."""
  return list(STEM) + [f'{name}/{branch}' for name, block, _ in BLOCKS for branch in BRANCH_ORDER[block]]


class InceptionV3(ConvChoice, nn.Module):
  """Inception-v3 without the auxiliary head; see the module docstring."""
  num_classes: int = 1000
  dropout_rate: float = 0.5
  bn_scale: bool = True
  pool_include_pad: bool = True
  fid: bool = False  # pytorch-fid's network: Mixed_7c max-pools its pool branch
  dtype: Any = jnp.float32
  conv_impl: Optional[str] = None  # CPU convolution of its conv layers (models/layers.py); None: 'auto'

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = {}
    stem = [(32, (3, 3), 2, False), (32, (3, 3), 1, False), (64, (3, 3), 1, True), (80, (1, 1), 1, False),
            (192, (3, 3), 1, False)]
    for i, (name, (features, kernel, strides, same)) in enumerate(zip(STEM, stem)):
      x = BasicConv(features, kernel, strides, same, self.bn_scale, self.dtype, name=name)(x, train)
      if i in (2, 4):
        x = max_pool_3x3_s2(x)
    out['stem'] = x
    for name, block, kwargs in BLOCKS:
      if self.fid and name == 'Mixed_7c':
        kwargs = {**kwargs, 'max_pool_branch': True}
      x = block(bn_scale=self.bn_scale, pool_include_pad=self.pool_include_pad, dtype=self.dtype,
                name=name, **kwargs)(x, train)
      out[name] = x
    out['pool'] = x = global_avg_pool(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, dtype=self.dtype, name='fc')(x), out
