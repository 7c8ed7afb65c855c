"""The adversarial train step shared by the GAN-trained methods: config.gan.d_steps updates of the
discriminator 'd', then one of the generator 'g', each with its own optimizer, then G's EMA.

The generator's side is a `synthesize(g_params, g_stats, batch, rng) -> (images for D, new G
statistics, G's extra loss, extra metrics)`: noise to images for DCGAN, masked images to
completions (with their reconstruction loss) for inpainting. G minimises adversarial_weight x its
adversarial loss + the extra loss.
"""

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from vision_jax.generative import losses
from vision_jax.generative.state import GenerativeState, apply_with_stats, ema_decay, update_ema

Batch = dict[str, jax.Array]


def real_images(batch: Batch) -> jax.Array:
  return batch['image']


def make_train_step(d, gan_config, g_lr_fn, synthesize, adversarial_weight: float = 1.0,
                    real_for_d: Callable[[Batch], jax.Array] = real_images):
  """Returns train_step(state, batch, rng) -> (state, metrics) over state.nets['g'] and ['d'].
  real_for_d(batch): what D sees as real (the batch's images; pix2pix: the (input, target) pair)."""
  d_loss_fn, g_loss_fn = losses.LOSSES[gan_config.loss]
  d_steps = gan_config.d_steps

  def d_objective(d_params, d_stats, real, fake, labels, rng):
    real_logits, d_stats = apply_with_stats(d, d_params, d_stats, real, labels, train=True)
    fake_logits, d_stats = apply_with_stats(d, d_params, d_stats, fake, labels, train=True)
    loss = d_loss_fn(real_logits, fake_logits)
    critic = lambda x: apply_with_stats(d, d_params, d_stats, x, labels, train=True)[0]
    if gan_config.loss == 'wgan_gp':
      loss += gan_config.gp_weight * losses.gradient_penalty(critic, real, fake, rng)
    if gan_config.r1_gamma:
      loss += gan_config.r1_gamma / 2 * losses.r1_penalty(critic, real)
    return loss, (d_stats, jnp.mean(real_logits), jnp.mean(fake_logits))

  def g_objective(g_params, g_stats, d_state, batch, rng):
    fake, g_stats, extra_loss, extra_metrics = synthesize(g_params, g_stats, batch, rng)
    fake_logits, _ = apply_with_stats(d, d_state.params, d_state.batch_stats, fake, batch['label'], train=True)
    adversarial = g_loss_fn(fake_logits)
    return adversarial_weight * adversarial + extra_loss, (g_stats, adversarial, extra_metrics)

  def train_step(state: GenerativeState, batch: Batch, rng: jax.Array):
    g_state, d_state = state.nets['g'], state.nets['d']
    rng = jax.random.fold_in(rng, g_state.step)
    real, labels = real_for_d(batch), batch['label']
    for k in range(d_steps):
      z_rng, gp_rng = jax.random.split(jax.random.fold_in(rng, k))
      fake, _, _, _ = synthesize(g_state.params, g_state.batch_stats, batch, z_rng)
      (d_loss, (d_stats, real_mean, fake_mean)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
          d_state.params, d_state.batch_stats, real, jax.lax.stop_gradient(fake), labels, gp_rng)
      d_state = d_state.apply_gradients(grads=d_grads, batch_stats=d_stats)
    (g_loss, (g_stats, adversarial, extra_metrics)), g_grads = jax.value_and_grad(g_objective, has_aux=True)(
        g_state.params, g_state.batch_stats, d_state, batch, jax.random.fold_in(rng, d_steps))
    new_g = g_state.apply_gradients(grads=g_grads, batch_stats=g_stats)
    ema = update_ema(state.ema['g'], new_g, ema_decay(gan_config.ema_decay, g_state.step))
    new_state = state.replace(nets={'g': new_g, 'd': d_state}, ema={'g': ema})
    metrics = {'d_loss': d_loss, 'g_loss': g_loss, 'd_real': real_mean, 'd_fake': fake_mean,
               'grad_norm': optax.global_norm((d_grads, g_grads)), 'learning_rate': g_lr_fn(g_state.step),
               **extra_metrics}
    if adversarial_weight != 1.0 or extra_metrics:
      metrics['g_adversarial'] = adversarial
    return new_state, metrics

  return train_step
