"""Image inpainting with a context encoder (Pathak et al. 2016), config.task == 'inpaint'.

The generator (models/context_encoder.py) sees the image with a square hole filled with the
training data's mean (config.inpaint.fill = 'mean', or given per channel in normalised units) and
the mask; it is trained with config.inpaint.l2_weight x the L2 error over the hole plus
config.inpaint.adversarial_weight x the adversarial loss of a DCGAN discriminator (config.gan) that
sees the completed image (known pixels kept, the hole from the generator). Holes are the central
config.inpaint.hole square ('center') or one square at a random place per image ('random').
The adversarial step, optimizers, EMA and checkpoint are the GAN task's (tasks/gan.py).

Evaluation runs the EMA generator (running BatchNorm statistics) on the test split with the same
kind of holes (random ones from a fixed seed) and reports `masked_l2` (completion, over the hole, in
normalised units) beside `meanfill_l2` (the mean-filled input, the baseline). With config.scorer (a
classifier config trained once per workdir, see tasks/gan.train_scorer) it adds `inpaint_accuracy`
(the classifier on completed test images), `masked_accuracy` (on the mean-filled inputs) and
`original_accuracy` (on the untouched images). WORKDIR/samples/step_XXXXXXX.png shows the masked
inputs, the completions and the originals of the first test images, one row each.
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.data import build_source
from vision_jax.errors import UserError
from vision_jax.gan.masks import (MASK_KINDS, composite, make_masks, mask_images, masked_l2,
                                  masked_l2_per_image)
from vision_jax.models.context_encoder import ContextEncoder
from vision_jax.tasks import gan
from vision_jax.train.loop import Task, train_and_evaluate

EVAL_MASK_SEED = 4321
FILL_BATCHES = 8


def build_generator(inpaint_config, image_shape) -> ContextEncoder:
  size, levels = image_shape[0], len(inpaint_config.widths)
  if size % 2 ** levels:
    raise UserError(f'the context encoder with {levels} stride-2 levels needs an image size divisible by '
                    f'{2 ** levels}, got {size}')
  if inpaint_config.mask not in MASK_KINDS:
    raise UserError(f'unknown inpaint.mask {inpaint_config.mask!r}; choose one of: {", ".join(MASK_KINDS)}')
  if not 0 < inpaint_config.hole < size:
    raise UserError(f'inpaint.hole must be between 1 and {size - 1} for {size}x{size} images, '
                    f'got {inpaint_config.hole}')
  return ContextEncoder(widths=tuple(inpaint_config.widths), bottleneck=inpaint_config.bottleneck)


def fill_value(inpaint_config, source) -> np.ndarray:
  """Per-channel value that fills the hole: the mean of the first training batches (averaged over
  processes, so every process fills alike), or the configured numbers."""
  channels = source.image_shape[-1]
  if inpaint_config.fill != 'mean':
    return np.broadcast_to(np.asarray(inpaint_config.fill, np.float32), (channels,)).copy()
  batches = source.train_batches(0)
  means = [np.asarray(next(batches)['image'], np.float64).reshape(-1, channels).mean(0) for _ in range(FILL_BATCHES)]
  mean = np.mean(means, axis=0)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    mean = np.asarray(multihost_utils.process_allgather(mean)).mean(0)
  return mean.astype(np.float32)


def inpainting_synthesizer(g, inpaint_config, fill, image_size: int):
  """synthesize(g_params, g_stats, batch, rng) for gan.make_train_step: completed images for D, and
  the weighted L2 over the hole as G's extra loss."""
  def synthesize(params, stats, batch, rng):
    real = batch['image']
    holes = make_masks(inpaint_config.mask, rng, real.shape[0], image_size, inpaint_config.hole)
    completion, stats = gan.apply_with_stats(g, params, stats, mask_images(real, holes, fill), holes, train=True)
    reconstruction = masked_l2(completion, real, holes)
    return (composite(real, completion, holes), stats, inpaint_config.l2_weight * reconstruction,
            {'masked_l2': reconstruction})
  return synthesize


def complete(g, state: gan.GanState, images, holes, fill):
  """(mean-filled inputs, raw completions, composited completions) from the EMA generator."""
  masked = mask_images(images, holes, fill)
  completion = gan.apply_with_stats(g, state.ema_params, state.ema_batch_stats, masked, holes, train=False)[0]
  return masked, completion, composite(images, completion, holes)


def eval_holes(inpaint_config, batch: int, image_size: int):
  return make_masks(inpaint_config.mask, jax.random.PRNGKey(EVAL_MASK_SEED), batch, image_size, inpaint_config.hole)


def make_eval_step(g, scorer, inpaint_config, fill, image_size: int):
  """eval_step(state, test batch) -> per-image hole L2 of the completion and of the mean fill (and the
  scorer's probabilities on completed, masked and original images)."""
  def eval_step(state: gan.GanState, batch):
    images = batch['image']
    holes = eval_holes(inpaint_config, images.shape[0], image_size)
    masked, completion, completed = complete(g, state, images, holes, fill)
    out = {'mask': batch['mask'], 'masked_l2': masked_l2_per_image(completion, images, holes),
           'meanfill_l2': masked_l2_per_image(masked, images, holes)}
    if scorer is not None:
      out['label'] = batch['label']
      for name, x in (('completed', completed), ('masked', masked), ('original', images)):
        out[f'{name}_probs'] = scorer(x)[0]
    return out
  return eval_step


def summarise_eval(outputs: list[dict]) -> dict:
  valid = np.concatenate([o['mask'] for o in outputs]) > 0
  gather = lambda key: np.concatenate([o[key] for o in outputs])[valid]
  metrics = {'masked_l2': float(gather('masked_l2').mean()), 'meanfill_l2': float(gather('meanfill_l2').mean()),
             'num_examples': float(valid.sum())}
  if 'label' in outputs[0]:
    labels = gather('label')
    for name, key in (('inpaint', 'completed'), ('masked', 'masked'), ('original', 'original')):
      metrics[f'{name}_accuracy'] = float(np.mean(gather(f'{key}_probs').argmax(-1) == labels))
  return metrics


def save_inpainting_grid(step: int, state: gan.GanState, g, images, inpaint_config, fill, workdir: str) -> str:
  """WORKDIR/samples/step_XXXXXXX.png: masked inputs, completions and originals, one row each."""
  host_state = jax.device_get(state)
  holes = eval_holes(inpaint_config, len(images), images.shape[1])
  masked, _, completed = jax.jit(functools.partial(complete, g, fill=fill))(host_state, images, holes)
  rows = np.stack([np.asarray(masked), np.asarray(completed), images])
  return gan.save_image_grid(rows, gan.sample_grid_path(workdir, step))


def build_task(config, workdir: str) -> Task:
  gan.check_gan_config(config)
  source = build_source(config.dataset, config.batch_size, config.eval_batch_size, config.seed,
                        jax.process_index(), jax.process_count())
  image_shape = tuple(source.image_shape)
  g = build_generator(config.inpaint, image_shape)
  d = gan.build_discriminator(config, image_shape)
  fill = fill_value(config.inpaint, source)
  g_lr_fn, g_tx, d_tx = gan.build_optimizers(config)
  scorer = gan.train_scorer(config.scorer, workdir) if config.get('scorer') else None
  grid_images = np.asarray(next(iter(source.eval_batches()))['image'][:config.inpaint.grid_images])
  g_inputs = (jnp.zeros((2, *image_shape)), jnp.zeros((2, *image_shape[:2], 1)))
  return Task(
      create_state=functools.partial(gan.create_state, g=g, d=d, g_tx=g_tx, d_tx=d_tx, g_inputs=g_inputs,
                                     image_shape=image_shape),
      train_step=gan.make_train_step(d, config.gan, g_lr_fn,
                                     inpainting_synthesizer(g, config.inpaint, fill, image_shape[0]),
                                     adversarial_weight=config.inpaint.adversarial_weight),
      eval_step=make_eval_step(g, scorer, config.inpaint, fill, image_shape[0]),
      summarise_eval=summarise_eval, source=source, collect_eval=True,
      plot_keys=('d_loss', 'masked_l2', 'inpaint_accuracy' if scorer else 'meanfill_l2'),
      after_eval=functools.partial(save_inpainting_grid, g=g, images=grid_images, inpaint_config=config.inpaint,
                                   fill=fill, workdir=workdir))


def run(config, workdir: str) -> Any:
  """Entry point for config.task == 'inpaint'."""
  return train_and_evaluate(config, workdir, build_task(config, workdir))
