"""Inpainting masks and losses (context encoders, Pathak et al. 2016): 1 marks missing pixels."""

import jax
import jax.numpy as jnp


def center_mask(image_size: int, hole: int) -> jnp.ndarray:
  """(S, S, 1) mask with the central hole x hole square missing."""
  start = (image_size - hole) // 2
  rows = (jnp.arange(image_size) >= start) & (jnp.arange(image_size) < start + hole)
  return (rows[:, None] & rows[None, :]).astype(jnp.float32)[..., None]


def random_masks(rng: jax.Array, batch: int, image_size: int, hole: int) -> jnp.ndarray:
  """(B, S, S, 1): one hole x hole square per image at a uniformly random position."""
  top, left = jax.random.randint(rng, (2, batch, 1, 1), 0, image_size - hole + 1)
  rows, cols = jnp.arange(image_size)[None, :, None], jnp.arange(image_size)[None, None, :]
  inside = (rows >= top) & (rows < top + hole) & (cols >= left) & (cols < left + hole)
  return inside.astype(jnp.float32)[..., None]


def mask_images(images: jnp.ndarray, masks: jnp.ndarray, fill: float = 0.0) -> jnp.ndarray:
  """Images with the missing region replaced by `fill`."""
  return images * (1 - masks) + fill * masks


def composite(images: jnp.ndarray, completion: jnp.ndarray, masks: jnp.ndarray) -> jnp.ndarray:
  """Known pixels from the input, missing ones from the completion."""
  return images * (1 - masks) + completion * masks


def masked_l2(prediction: jnp.ndarray, target: jnp.ndarray, masks: jnp.ndarray) -> jnp.ndarray:
  """Mean squared error over the missing pixels only (the context encoder's reconstruction loss)."""
  masks = jnp.broadcast_to(masks, target.shape)
  return jnp.sum(jnp.square(prediction - target) * masks) / jnp.maximum(jnp.sum(masks), 1.0)


def masked_l2_per_image(prediction: jnp.ndarray, target: jnp.ndarray, masks: jnp.ndarray) -> jnp.ndarray:
  """(B,) mean squared error over each image's missing pixels (evaluation)."""
  masks = jnp.broadcast_to(masks, target.shape)
  axes = tuple(range(1, target.ndim))
  return jnp.sum(jnp.square(prediction - target) * masks, axes) / jnp.maximum(jnp.sum(masks, axes), 1.0)


def make_masks(kind: str, rng: jax.Array, batch: int, image_size: int, hole: int) -> jnp.ndarray:
  """(B, S, S, 1) masks of `kind` ('center' or 'random')."""
  if kind == 'center':
    return jnp.broadcast_to(center_mask(image_size, hole), (batch, image_size, image_size, 1))
  return random_masks(rng, batch, image_size, hole)


MASK_KINDS = ('center', 'random')
