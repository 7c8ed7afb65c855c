"""Adversarial losses on discriminator logits, and the gradient penalties that stabilise them.

Each loss returns (d_loss, g_loss) as functions of D's logits on real and generated images,
averaged over the batch: non-saturating (Goodfellow et al. 2014), hinge (Lim & Ye 2017;
Miyato et al. 2018), least squares (LSGAN, Mao et al. 2017; CycleGAN's) and Wasserstein (Arjovsky
et al. 2017; with gradient_penalty: WGAN-GP, Gulrajani et al. 2017). r1_penalty is Mescheder et al. 2018's penalty on real data.
"""

from typing import Callable

import jax
import jax.numpy as jnp


def non_saturating_d(real_logits, fake_logits):
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_g(fake_logits):
  return jnp.mean(jax.nn.softplus(-fake_logits))


def hinge_d(real_logits, fake_logits):
  return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def least_squares_d(real_logits, fake_logits):
  """LSGAN's D loss as CycleGAN's reference: (MSE(D(real), 1) + MSE(D(fake), 0)) / 2."""
  return 0.5 * (jnp.mean(jnp.square(real_logits - 1.0)) + jnp.mean(jnp.square(fake_logits)))


def least_squares_g(fake_logits):
  return jnp.mean(jnp.square(fake_logits - 1.0))


def wasserstein_d(real_logits, fake_logits):
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def generator_mean_logit(fake_logits):
  """G's loss for hinge and Wasserstein GANs: -E[D(G(z))]."""
  return -jnp.mean(fake_logits)


LOSSES = {
    'non_saturating': (non_saturating_d, non_saturating_g),
    'hinge': (hinge_d, generator_mean_logit),
    'lsgan': (least_squares_d, least_squares_g),
    'wgan_gp': (wasserstein_d, generator_mean_logit),
}


def _input_grad_norms(d_fn: Callable[[jnp.ndarray], jnp.ndarray], images: jnp.ndarray) -> jnp.ndarray:
  """Per-example L2 norms of dD(x)/dx."""
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(images)
  return jnp.sqrt(jnp.sum(jnp.square(grads.reshape(grads.shape[0], -1)), axis=-1) + 1e-12)


def gradient_penalty(d_fn: Callable[[jnp.ndarray], jnp.ndarray], real: jnp.ndarray, fake: jnp.ndarray,
                     rng: jax.Array) -> jnp.ndarray:
  """WGAN-GP: E[(||dD/dx(x_hat)|| - 1)^2] at random interpolates x_hat of real and fake images."""
  eps = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1))
  interpolates = eps * real + (1.0 - eps) * fake
  return jnp.mean(jnp.square(_input_grad_norms(d_fn, interpolates) - 1.0))


def r1_penalty(d_fn: Callable[[jnp.ndarray], jnp.ndarray], real: jnp.ndarray) -> jnp.ndarray:
  """R1: E[||dD/dx(x_real)||^2] (multiply by gamma / 2)."""
  return jnp.mean(jnp.square(_input_grad_norms(d_fn, real)))
