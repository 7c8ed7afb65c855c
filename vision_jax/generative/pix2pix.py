"""pix2pix (Isola et al. 2017), config.method == 'pix2pix': paired image-to-image translation.

G is a U-Net (models/translation.py) from the input image (batch 'image') to the target domain;
D is a PatchGAN that judges (input, output) pairs, real = (input, batch 'target'). G minimises
config.pix2pix.adversarial_weight x the GAN loss (config.gan.loss; the paper's is the
non-saturating BCE) + config.pix2pix.l1_weight (100) x the mean |G(input) - target|. The adversarial
step is generative/adversarial.py's; dropout in G is the paper's noise during training.

The 'translation' evaluator (pix2pix and CycleGAN) runs G's EMA in eval mode (running BatchNorm
statistics, no dropout; the paper kept both at test time) on the test pairs: `l1`, `psnr` and `ssim`
against the true target in [0, 1] pixel units; with a scorer (a classifier of real target-domain
images) `translation_accuracy`; with a domain scorer (real A vs real B) `domain_accuracy`, the share
of translations it calls B; and where the method reconstructs (CycleGAN) `cycle_l1`, the mean
|G_BA(G_AB(a)) - a| in [0, 1] pixel units.
"""

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.errors import UserError
from vision_jax.evaluation.evaluators import EVALUATORS, StepEvaluator, needs
from vision_jax.evaluation.image_quality import psnr, ssim
from vision_jax.generative import adversarial
from vision_jax.generative.method import METHODS, GenerativeMethod, build_optimizers, check_gan_config
from vision_jax.generative.state import Network, apply_ema, apply_with_stats
from vision_jax.models.translation import PatchGAN, UNet


def pairs(batch) -> jax.Array:
  """What D judges: the input and an output side by side on the channel axis."""
  return jnp.concatenate([batch['image'], batch['target']], axis=-1)


def translation_synthesizer(g, l1_weight: float):
  """synthesize(g_params, g_stats, batch, rng) for the adversarial step: (input, G(input)) pairs for
  D, and l1_weight x the mean |G(input) - target| as G's extra loss."""
  def synthesize(params, stats, batch, rng):
    fake, stats = apply_with_stats(g, params, stats, batch['image'], train=True, rngs={'dropout': rng})
    l1 = jnp.mean(jnp.abs(fake - batch['target']))
    return pairs({'image': batch['image'], 'target': fake}), stats, l1_weight * l1, {'l1': l1}
  return synthesize


def check_pairs(batch) -> tuple[int, ...]:
  """The target images' shape of an eval batch; a UserError for a dataset without paired targets."""
  if 'target' not in batch:
    raise UserError("pix2pix needs paired data: batches with a 'target' image (dataset.name "
                    "'image_pairs' with A|B files, or 'digit_domains' with dataset.domain 'pairs')")
  return tuple(batch['target'].shape[1:])


def make_generator(config, out_channels: int) -> UNet:
  p = config.pix2pix
  return UNet(widths=tuple(p.g_widths), out_channels=out_channels, norm=p.norm, dropout_blocks=p.dropout_blocks)


@METHODS.register('pix2pix')
def build(config, source) -> GenerativeMethod:
  check_gan_config(config)
  p = config.pix2pix
  first = next(iter(source.eval_batches()))
  image_shape, target_shape = tuple(source.image_shape), check_pairs(first)
  g = make_generator(config, target_shape[-1])
  d = PatchGAN(width=p.d_width, num_layers=p.d_layers, norm=p.norm)
  g_lr_fn, g_tx, d_tx = build_optimizers(config)
  pair_shape = (*image_shape[:2], image_shape[-1] + target_shape[-1])
  networks = {'g': Network(g, g_tx, (jnp.zeros((2, *image_shape)),), ema=True),
              'd': Network(d, d_tx, (jnp.zeros((2, *pair_shape)), jnp.zeros((2,), jnp.int32)))}
  shown = {k: np.asarray(first[k][:p.grid_images]) for k in ('image', 'target')}

  def generate(state, batch):
    return {'images': apply_ema(g, state, 'g', batch['image']), 'mask': batch['mask']}

  def grid(state):
    outputs = np.asarray(jax.jit(generate)(state, {'image': shown['image'], 'mask': np.ones(len(shown['image']))})['images'])
    inputs = np.broadcast_to(shown['image'], shown['image'].shape[:-1] + (outputs.shape[-1],))
    return np.stack([inputs, outputs, shown['target']])

  return GenerativeMethod(
      networks=networks,
      train_step=adversarial.make_train_step(d, config.gan, g_lr_fn, translation_synthesizer(g, p.l1_weight),
                                             adversarial_weight=p.adversarial_weight, real_for_d=pairs),
      generate=generate, eval_batches=source.eval_batches, grid=grid, card={'target_shape': list(target_shape)})


@EVALUATORS.register('translation')
def translation_evaluator(name: str, spec, context: dict, every_steps: int) -> StepEvaluator:
  """l1, psnr and ssim of the method's translations of the test inputs against their true targets
  (pixels in [0, 1] through the source's mean and std) where the test split is paired; with context['scorer'] the share the
  target-domain classifier labels correctly (`translation_accuracy`); with context['domain_scorer']
  the share it calls domain B (class 1, `domain_accuracy`); `cycle_l1` where generate() returns
  'reconstructions'."""
  method, source, scorer = needs(context, 'method', name), needs(context, 'source', name), context.get('scorer')
  domain_scorer = context.get('domain_scorer')
  mean, std = np.asarray(source.mean, np.float32), np.asarray(source.std, np.float32)
  pixels = lambda x: jnp.clip(x * std + mean, 0, 1)
  per_image_l1 = lambda x, y: jnp.mean(jnp.abs(x - y), axis=(1, 2, 3))

  def eval_step(state, batch):
    mask = batch['mask']
    generated = method.generate(state, batch)
    out = generated['images']
    sums = {'num_examples': jnp.sum(mask)}
    if 'target' in batch:  # a paired test split: compare with the right answer
      images, targets = pixels(out), batch['target'] * std + mean
      sums.update(l1=jnp.sum(per_image_l1(images, targets) * mask), psnr=jnp.sum(psnr(images, targets) * mask),
                  ssim=jnp.sum(ssim(images, targets) * mask))
    if scorer is not None:
      sums['translation_accuracy'] = jnp.sum((scorer(out)[0].argmax(-1) == batch['label']) * mask)
    if domain_scorer is not None:
      sums['domain_accuracy'] = jnp.sum((domain_scorer(out)[0].argmax(-1) == 1) * mask)
    if 'reconstructions' in generated:
      sums['cycle_l1'] = jnp.sum(per_image_l1(pixels(generated['reconstructions']), batch['image'] * std + mean) * mask)
    return sums

  def summarise(sums):
    count = max(float(sums['num_examples']), 1.0)
    return {k: float(v) / count if k != 'num_examples' else float(v) for k, v in sums.items()}
  plot_keys = ('translation_accuracy', 'ssim') if scorer is not None else ('psnr', 'ssim')
  return StepEvaluator(name, every_steps, eval_step, method.eval_batches, summarise,
                       plot_keys=tuple(spec.get('plot_keys', plot_keys)))
