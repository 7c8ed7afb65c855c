"""The generative contract: a method is its named networks (generative/state.py), its train step,
and what its evaluators sample from it. Methods register by name (config.method) with
build(config, source) -> GenerativeMethod; shared GAN pieces (discriminator, optimizers, config
checks) live here too."""

import dataclasses
from typing import Any, Callable, Iterator

import jax
import numpy as np

from vision_jax.errors import UserError
from vision_jax.generative import losses
from vision_jax.generative.state import GenerativeState, Network
from vision_jax.models.dcgan import Discriminator, check_image_size
from vision_jax.registry import Registry
from vision_jax.train import parallel
from vision_jax.train.optimizers import create_learning_rate_fn, create_optimizer

Batch = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class GenerativeMethod:
  """networks: name -> Network (each its own optimizer state; `ema` ones keep an EMA).
  train_step(state, batch, rng) -> (state, metrics): pure, over the real data's train batches.
  generate(state, batch) -> {'images' (B, H, W, C) in [-1, 1], 'mask', ...}: EMA samples for
      one eval batch (fixed noise for DCGAN, completed test images for inpainting).
  eval_batches() -> the fixed eval batches generate() takes.
  grid(state) -> (rows, cols, H, W, C) images in [-1, 1] for the sample-grid evaluator.
  buffers: the initial value of state.buffers (CycleGAN's image pools), kept in checkpoints.
  extras: what the method's own evaluators need from it (neural style: its loss terms).
  card: what prediction needs beyond the source's card (WORKDIR/source.json's 'method' entry):
      the output's image shape (pix2pix, CycleGAN), inpainting's hole fill.
  """
  networks: dict[str, Network]
  train_step: Callable[[GenerativeState, Batch, jax.Array], tuple[GenerativeState, dict]]
  generate: Callable[[GenerativeState, Batch], dict]
  eval_batches: Callable[[], Iterator[dict]]
  grid: Callable[[GenerativeState], np.ndarray]
  buffers: dict = dataclasses.field(default_factory=dict)
  extras: dict = dataclasses.field(default_factory=dict)
  card: dict = dataclasses.field(default_factory=dict)


METHODS: Registry[Callable[..., GenerativeMethod]] = Registry('generative method')


def build_discriminator(config, image_shape, num_classes: int = 0) -> Discriminator:
  """config.gan's DCGAN discriminator for images of image_shape (an unsupported size is one UserError)."""
  check_image_size(image_shape[0])
  return Discriminator(image_size=image_shape[0], widths=tuple(config.gan.d_widths), num_classes=num_classes,
                       spectral_norm=config.gan.spectral_norm, conv_impl=config.gan.get('conv_impl'))


def build_optimizers(config) -> tuple[Any, Any, Any]:
  """(G's learning-rate schedule, G's optax transform, D's transform): one optimizer config, D's base
  rate config.gan.d_lr when set."""
  g_lr_fn = create_learning_rate_fn(config.schedule, config.num_train_steps)
  d_schedule = config.schedule.copy_and_resolve_references()
  d_schedule.base_lr = config.gan.d_lr or config.schedule.base_lr
  d_lr_fn = create_learning_rate_fn(d_schedule, config.num_train_steps)
  return g_lr_fn, create_optimizer(config.optimizer, g_lr_fn), create_optimizer(config.optimizer, d_lr_fn)


def check_gan_config(config) -> None:
  """One-line errors for batch sizes that do not split over the mesh and unknown losses."""
  parallel.check_batch_size('batch_size', config.batch_size)
  parallel.check_batch_size('eval_batch_size', config.eval_batch_size)
  if config.gan.loss not in losses.LOSSES:
    raise UserError(f'unknown gan.loss {config.gan.loss!r}; choose one of: {", ".join(losses.LOSSES)}')
