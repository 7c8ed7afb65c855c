"""Perceptual losses of neural style (Gatys et al. 2016; Johnson et al. 2016): content loss on
feature maps, style loss on their Gram matrices, total variation on the image. Features are NHWC
maps of a fixed, pretrained network (the caller picks network and layers)."""

from typing import Sequence

import jax
import jax.numpy as jnp


def gram_matrix(features: jax.Array) -> jax.Array:
  """(B, H, W, C) -> (B, C, C): channel correlations summed over positions, divided by C*H*W
  (Johnson et al.'s normalisation), so layers of different sizes weigh alike. Where features
  sit is gone: the Gram matrix keeps texture (style), not layout."""
  b, h, w, c = features.shape
  flat = features.reshape(b, h * w, c).astype(jnp.float32)
  return jnp.einsum('bpi,bpj->bij', flat, flat) / (c * h * w)


def content_loss(features: jax.Array, target: jax.Array) -> jax.Array:
  """Mean squared difference of feature maps (per element)."""
  return jnp.mean(jnp.square(features.astype(jnp.float32) - target.astype(jnp.float32)))


def style_loss(features: Sequence[jax.Array], target_grams: Sequence[jax.Array],
               weights: Sequence[float]) -> jax.Array:
  """Σ_l weight_l x squared Frobenius distance between the Gram matrices of features[l] and
  target_grams[l] ((1 or B, C, C)), averaged over the batch."""
  terms = [w * jnp.mean(jnp.sum(jnp.square(gram_matrix(f) - g), axis=(1, 2)))
           for f, g, w in zip(features, target_grams, weights)]
  return sum(terms)


def total_variation(images: jax.Array) -> jax.Array:
  """Mean squared difference of vertically and horizontally neighbouring pixels (smoothness prior)."""
  dy = images[:, 1:] - images[:, :-1]
  dx = images[:, :, 1:] - images[:, :, :-1]
  return jnp.mean(jnp.square(dy)) + jnp.mean(jnp.square(dx))
