"""pix2pix / CycleGAN networks: the PatchGAN's 70x70 receptive field, the U-Net's shapes, skips and dropout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vision_jax.errors import UserError
from vision_jax.models.translation import PatchGAN, ResNetGenerator, UNet


def receptive_field(model, size: int, channels: int = 3) -> tuple[int, int]:
  """Rows and columns of the input that one central output logit depends on (from its gradient)."""
  images = jnp.ones((1, size, size, channels))
  variables = model.init(jax.random.PRNGKey(0), images, train=False)
  out_shape = model.apply(variables, images, train=False).shape
  centre = (0, out_shape[1] // 2, out_shape[2] // 2, 0)
  grad = jax.grad(lambda x: model.apply(variables, x, train=False)[centre])(images)
  rows, cols = np.nonzero(np.abs(np.asarray(grad[0])).sum(-1))
  return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize('num_layers, field', [(3, 70), (1, 16)])
def test_patchgan_sees_70x70_patches(num_layers, field):
  # The width does not change the receptive field; 8 keeps the test fast.
  assert receptive_field(PatchGAN(width=8, num_layers=num_layers, norm='none'), 128) == (field, field)


def test_patchgan_logit_map_of_the_paper_at_256():
  model = PatchGAN(width=8)
  images = jnp.zeros((2, 256, 256, 6))  # pix2pix's D sees the (input, output) pair
  variables = model.init(jax.random.PRNGKey(0), images, train=False)
  assert model.apply(variables, images, train=False).shape == (2, 30, 30, 1)


def test_unet_shapes_skips_and_dropout():
  model = UNet(widths=(8, 16, 32, 32, 32), out_channels=3, norm='instance', dropout_blocks=2)
  images = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 1))
  variables = jax.jit(model.init)({'params': jax.random.PRNGKey(0), 'dropout': jax.random.PRNGKey(1)}, images)
  # jitted: op by op, the four passes below take several times longer
  apply = jax.jit(lambda x: model.apply(variables, x, train=False))
  dropout = jax.jit(lambda key: model.apply(variables, images, train=True, rngs={'dropout': key}))
  out = apply(images)
  assert out.shape == (2, 32, 32, 3) and float(jnp.abs(out).max()) <= 1.0
  # The outermost skip: an output pixel depends on the input pixel under it through a path that
  # never leaves full resolution's neighbourhood, so a one-pixel change moves nearby outputs.
  moved = images.at[0, 16, 16, 0].add(1.0)
  change = np.abs(np.asarray(apply(moved) - out))[0].sum(-1)
  assert change[14:19, 14:19].max() > 0 and change[:, :8].max() < change[14:19, 14:19].max()
  # Dropout is noise in training (two keys differ) and off at eval (deterministic).
  a, b = (dropout(jax.random.PRNGKey(k)) for k in (2, 3))
  assert float(jnp.abs(a - b).max()) > 1e-3
  np.testing.assert_array_equal(apply(images), out)


def test_unet_needs_sides_divisible_by_its_depth():
  with pytest.raises(UserError, match='needs image sides divisible by 32, got 48x48'):
    UNet(widths=(8,) * 5).init(jax.random.PRNGKey(0), jnp.zeros((1, 48, 48, 3)), train=False)


def test_resnet_generator_keeps_the_size_and_its_blocks_are_residual():
  model = ResNetGenerator(width=8, num_blocks=2, out_channels=1)
  images = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
  variables = model.init(jax.random.PRNGKey(0), images)
  out = model.apply(variables, images)
  assert out.shape == (2, 32, 32, 1) and float(jnp.abs(out).max()) <= 1.0
  params = variables['params']
  assert {'block0_conv0', 'block1_conv1', 'down1', 'up1'} <= set(params) and 'block2_conv0' not in params
  # A block whose second convolution is zero adds nothing (x + 0): the 2-block generator then equals
  # the 1-block one with the same other weights.
  zeroed = {**params, 'block1_conv1': jax.tree.map(jnp.zeros_like, params['block1_conv1'])}
  one_block = {k: v for k, v in params.items() if not k.startswith('block1')}
  np.testing.assert_allclose(model.apply({'params': zeroed}, images),
                             ResNetGenerator(width=8, num_blocks=1, out_channels=1).apply({'params': one_block}, images),
                             atol=1e-6)
  assert params['stem']['kernel'].shape == (7, 7, 3, 8) and 'bias' in params['stem']  # instance norm keeps biases
