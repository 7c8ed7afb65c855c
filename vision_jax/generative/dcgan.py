"""DCGAN (Radford et al. 2016) as a generative method (config.method == 'dcgan'): G maps noise
(and, when conditional, a class) to images; D is config.gan's discriminator; the adversarial step
is generative/adversarial.py's. Eval samples come from fixed noise with cycling class labels,
through G's EMA."""

from typing import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.data.batching import num_batches, pad_batch, process_slice
from vision_jax.errors import UserError
from vision_jax.generative import adversarial
from vision_jax.generative.method import (METHODS, GenerativeMethod, build_discriminator, build_optimizers,
                                          check_gan_config)
from vision_jax.generative.state import Network, apply_ema, apply_with_stats
from vision_jax.models.dcgan import Generator

EVAL_NOISE_SEED = 1234


def noise_synthesizer(g, latent_dim: int):
  """synthesize(g_params, g_stats, batch, rng) for a noise-to-image GAN: G(z, labels), no extra loss."""
  def synthesize(params, stats, batch, rng):
    z = jax.random.normal(rng, (batch['image'].shape[0], latent_dim))
    fake, stats = apply_with_stats(g, params, stats, z, batch['label'], train=True)
    return fake, stats, 0.0, {}
  return synthesize


def fixed_noise(num_samples: int, latent_dim: int, num_classes: int, seed: int = EVAL_NOISE_SEED):
  """(z, labels): the same noise and cycling class labels at every evaluation."""
  rng = np.random.default_rng(seed)
  z = rng.standard_normal((num_samples, latent_dim)).astype(np.float32)
  return z, (np.arange(num_samples) % num_classes).astype(np.int32)


def noise_batches(z: np.ndarray, labels: np.ndarray, eval_batch_size: int) -> Iterator[dict]:
  """This process's share of the fixed noise, padded and masked like any eval split."""
  b = eval_batch_size
  for i in range(num_batches(len(z), b)):
    batch = pad_batch({'z': z[i * b:(i + 1) * b], 'label': labels[i * b:(i + 1) * b]}, b)
    yield process_slice(batch, jax.process_index(), jax.process_count())


def make_generator(config, image_shape, num_classes: int) -> Generator:
  """G for images of image_shape; conditional on num_classes when config.gan.conditional."""
  return Generator(image_size=image_shape[0], channels=image_shape[-1], widths=tuple(config.gan.g_widths),
                   num_classes=num_classes if config.gan.conditional else 0,
                   conv_impl=config.gan.get('conv_impl'))  # optional: the benchmark sets it


@METHODS.register('dcgan')
def build(config, source) -> GenerativeMethod:
  check_gan_config(config)
  gan = config.gan
  if gan.sample_batch_stats and gan.num_eval_samples % config.eval_batch_size:
    raise UserError(f'gan.num_eval_samples {gan.num_eval_samples} must be a multiple of eval_batch_size '
                    f'{config.eval_batch_size} when samples use batch statistics (padding would skew them)')
  image_shape = tuple(source.image_shape)
  conditional = source.num_classes if gan.conditional else 0
  d = build_discriminator(config, image_shape, conditional)
  g = make_generator(config, image_shape, source.num_classes)
  g_lr_fn, g_tx, d_tx = build_optimizers(config)
  labels2 = jnp.zeros((2,), jnp.int32)
  networks = {'g': Network(g, g_tx, (jnp.zeros((2, gan.latent_dim)), labels2), ema=True),
              'd': Network(d, d_tx, (jnp.zeros((2, *image_shape)), labels2))}
  z, labels = fixed_noise(gan.num_eval_samples, gan.latent_dim, source.num_classes)

  def sample(state, z, labels):
    return apply_ema(g, state, 'g', z, labels, batch_stats=gan.sample_batch_stats)

  def generate(state, batch):
    return {'images': sample(state, batch['z'], batch['label']), 'mask': batch['mask']}

  def grid(state):
    n = int(np.sqrt(min(64, len(z))))
    images = np.asarray(jax.jit(sample)(state, z[:n * n], labels[:n * n]))
    return images.reshape(n, n, *images.shape[1:])

  return GenerativeMethod(
      networks=networks,
      train_step=adversarial.make_train_step(d, gan, g_lr_fn, noise_synthesizer(g, gan.latent_dim)),
      generate=generate, eval_batches=lambda: noise_batches(z, labels, config.eval_batch_size), grid=grid)
