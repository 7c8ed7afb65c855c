"""Inpainting building blocks: masks, masked losses and the context-encoder generator."""

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.generative import masks as M
from vision_jax.models.context_encoder import ContextEncoder


def test_center_mask_is_the_central_square():
  mask = np.asarray(M.center_mask(32, 12))[..., 0]
  assert mask.sum() == 144 and mask[10:22, 10:22].all() and not mask[:10].any() and not mask[:, 22:].any()


def test_random_masks_are_one_square_inside_each_image():
  masks = np.asarray(M.random_masks(jax.random.PRNGKey(0), 16, 32, 12))[..., 0]
  assert masks.shape == (16, 32, 32) and (masks.sum((1, 2)) == 144).all()
  for m in masks:
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    assert rows[-1] - rows[0] == 11 and cols[-1] - cols[0] == 11
  assert len({tuple(np.argwhere(m)[0]) for m in masks}) > 1


def test_masked_l2_counts_only_missing_pixels_and_composite_keeps_known_ones():
  target = jnp.zeros((2, 32, 32, 1))
  mask = jnp.broadcast_to(M.center_mask(32, 12), (2, 32, 32, 1))
  prediction = jnp.ones_like(target) * 0.5
  assert float(M.masked_l2(prediction, target, mask)) == 0.25
  assert float(M.masked_l2(prediction * mask, target + 0.5 * mask, mask)) == 0.0
  mixed = M.composite(target + 1, prediction, mask)
  np.testing.assert_array_equal(mixed[mask == 0], 1.0)
  np.testing.assert_array_equal(mixed[mask == 1], 0.5)


def test_context_encoder_completes_a_full_image():
  model = ContextEncoder()
  mask = jnp.broadcast_to(M.center_mask(32, 12), (2, 32, 32, 1))
  masked = M.mask_images(jnp.ones((2, 32, 32, 1)), mask)
  variables = jax.jit(model.init)(jax.random.PRNGKey(0), masked, mask)  # jitted: op by op takes 4x longer
  out, _ = jax.jit(lambda v: model.apply(v, masked, mask, mutable=['batch_stats']))(variables)
  assert out.shape == (2, 32, 32, 1) and float(jnp.abs(out).max()) <= 1.0
