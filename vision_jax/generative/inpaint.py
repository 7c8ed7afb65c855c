"""Image inpainting with a context encoder (Pathak et al. 2016), config.method == 'inpaint'.

The generator (models/context_encoder.py) sees the image with a square hole filled with the
training data's mean (config.inpaint.fill = 'mean', or given per channel in normalised units) and
the mask; it is trained with config.inpaint.l2_weight x the L2 error over the hole plus
config.inpaint.adversarial_weight x the adversarial loss of a DCGAN discriminator (config.gan) that
sees the completed image (known pixels kept, the hole from the generator). Holes are the central
config.inpaint.hole square ('center') or one square at a random place per image ('random').

The 'inpainting' evaluator runs the EMA generator (running BatchNorm statistics) on the test split
with the same kind of holes (random ones from a fixed seed) and reports `masked_l2` (completion,
over the hole, in normalised units) beside `meanfill_l2` (the mean-filled input, the baseline).
With a scorer (config.scorer) it adds `inpaint_accuracy` (the classifier on completed test
images), `masked_accuracy` (on the mean-filled inputs) and `original_accuracy`.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from vision_jax.errors import UserError
from vision_jax.evaluation.evaluators import EVALUATORS, StepEvaluator, needs
from vision_jax.generative import adversarial
from vision_jax.generative.masks import (MASK_KINDS, composite, make_masks, mask_images, masked_l2,
                                         masked_l2_per_image)
from vision_jax.generative.method import (METHODS, GenerativeMethod, build_discriminator, build_optimizers,
                                          check_gan_config)
from vision_jax.generative.state import Network, apply_with_stats
from vision_jax.models.context_encoder import ContextEncoder

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
    mean = np.asarray(multihost_utils.process_allgather(mean)).mean(0)
  return mean.astype(np.float32)


def inpainting_synthesizer(g, inpaint_config, fill, image_size: int):
  """synthesize(g_params, g_stats, batch, rng) for the adversarial step: completed images for D, and
  the weighted L2 over the hole as G's extra loss."""
  def synthesize(params, stats, batch, rng):
    real = batch['image']
    holes = make_masks(inpaint_config.mask, rng, real.shape[0], image_size, inpaint_config.hole)
    completion, stats = apply_with_stats(g, params, stats, mask_images(real, holes, fill), holes, train=True)
    reconstruction = masked_l2(completion, real, holes)
    return (composite(real, completion, holes), stats, inpaint_config.l2_weight * reconstruction,
            {'masked_l2': reconstruction})
  return synthesize


def complete(g, ema: dict, images, holes, fill):
  """(mean-filled inputs, raw completions, composited completions) from the generator's EMA
  variables ema = {'params', 'batch_stats'} (state.ema['g'])."""
  masked = mask_images(images, holes, fill)
  completion = apply_with_stats(g, ema['params'], ema['batch_stats'], masked, holes, train=False)[0]
  return masked, completion, composite(images, completion, holes)


def eval_holes(inpaint_config, batch: int, image_size: int):
  return make_masks(inpaint_config.mask, jax.random.PRNGKey(EVAL_MASK_SEED), batch, image_size, inpaint_config.hole)


@METHODS.register('inpaint')
def build(config, source) -> GenerativeMethod:
  check_gan_config(config)
  image_shape = tuple(source.image_shape)
  size = image_shape[0]
  g = build_generator(config.inpaint, image_shape)
  d = build_discriminator(config, image_shape)
  fill = fill_value(config.inpaint, source)
  g_lr_fn, g_tx, d_tx = build_optimizers(config)
  networks = {'g': Network(g, g_tx, (jnp.zeros((2, *image_shape)), jnp.zeros((2, *image_shape[:2], 1))), ema=True),
              'd': Network(d, d_tx, (jnp.zeros((2, *image_shape)), jnp.zeros((2,), jnp.int32)))}
  grid_images = np.asarray(next(iter(source.eval_batches()))['image'][:config.inpaint.grid_images])

  def generate(state, batch):
    images = batch['image']
    holes = eval_holes(config.inpaint, images.shape[0], size)
    masked, completion, completed = complete(g, state.ema['g'], images, holes, fill)
    return {'images': completed, 'masked': masked, 'original': images, 'completion': completion,
            'holes': holes, 'mask': batch['mask'], 'label': batch['label']}

  def grid(state):
    out = jax.jit(generate)(state, {'image': grid_images, 'mask': np.ones(len(grid_images), np.float32),
                                    'label': np.zeros(len(grid_images), np.int32)})
    return np.stack([np.asarray(out['masked']), np.asarray(out['images']), grid_images])

  return GenerativeMethod(
      networks=networks,
      train_step=adversarial.make_train_step(d, config.gan, g_lr_fn, inpainting_synthesizer(g, config.inpaint, fill, size),
                                             adversarial_weight=config.inpaint.adversarial_weight),
      generate=generate, eval_batches=source.eval_batches, grid=grid, card={'fill': np.asarray(fill).tolist()})


def summarise(outputs: list[dict]) -> dict:
  valid = np.concatenate([o['mask'] for o in outputs]) > 0
  gather = lambda key: np.concatenate([o[key] for o in outputs])[valid]
  metrics = {'masked_l2': float(gather('masked_l2').mean()), 'meanfill_l2': float(gather('meanfill_l2').mean()),
             'num_examples': float(valid.sum())}
  if 'completed_probs' in outputs[0]:
    labels = gather('label')
    for name, key in (('inpaint', 'completed'), ('masked', 'masked'), ('original', 'original')):
      metrics[f'{name}_accuracy'] = float(np.mean(gather(f'{key}_probs').argmax(-1) == labels))
  return metrics


@EVALUATORS.register('inpainting')
def inpainting_evaluator(name: str, spec, context: dict, every_steps: int) -> StepEvaluator:
  """Hole L2 of the completions and of the mean fill (and, with context['scorer'], the scorer's
  accuracy on completed, masked and original test images)."""
  method, scorer = needs(context, 'method', name), context.get('scorer')

  def eval_step(state, batch):
    out = method.generate(state, batch)
    result = {'mask': out['mask'], 'label': out['label'],
              'masked_l2': masked_l2_per_image(out['completion'], out['original'], out['holes']),
              'meanfill_l2': masked_l2_per_image(out['masked'], out['original'], out['holes'])}
    if scorer is not None:
      for key, images in (('completed', out['images']), ('masked', out['masked']), ('original', out['original'])):
        result[f'{key}_probs'] = scorer(images)[0]
    return result
  plot_keys = ('masked_l2', 'inpaint_accuracy' if scorer is not None else 'meanfill_l2')
  return StepEvaluator(name, every_steps, eval_step, method.eval_batches, summarise, reduce='collect',
                       plot_keys=tuple(spec.get('plot_keys', plot_keys)))
