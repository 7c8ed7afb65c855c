"""Evaluators of generative methods (the contract in vision_jax/generative/method.py):

'sample_grid': method.grid(state) drawn to WORKDIR/samples/step_XXXXXXX.png.
'scorer': a pinned classifier (context['scorer'], images -> (probabilities, features)) on the
    method's generated images: `confident_frac` (share labelled with confidence >= 0.9),
    `min_class_frac` (share of the rarest predicted class) and `fd_<spec.feature_name>`, a Fréchet
    distance on the classifier's features (not FID) to the real train images, beside the same
    numbers for real test images (`confident_frac_real`, `fd_<name>_real`).
'fid': FID and KID of the generated images against the real train images (spec.real_examples of
    them, 0 = all), with Inception-v3 weights from spec.weights; real features cached in WORKDIR.
Real images come from the method's data source, so each works on any dataset.
"""

import functools
import os
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.errors import UserError
from vision_jax.evaluation.evaluators import EVALUATORS, PictureEvaluator, StepEvaluator, needs
from vision_jax.evaluation.fid import cached_features, make_fid_features
from vision_jax.evaluation.frechet import (feature_statistics, frechet_distance, frechet_distance_of_features,
                                           kernel_distance)
from vision_jax.evaluation.pictures import save_image_grid, step_path

FEATURE_BATCH = 50
STREAMED_TRAIN_EXAMPLES = 10_000  # train images taken from a streamed (TFDS) source when no limit is set


def real_images(source, split: str, limit: int = 0, key: str = 'image') -> np.ndarray:
  """Normalised real images of a source's 'train' or 'test' split: all of an in-memory source,
  else the first `limit` (0 = one pass of the eval split; train needs a limit) from its batches.
  key 'target': the second domain's images (CycleGAN's B), streamed from the train batches."""
  images = source.split_images(split) if key == 'image' else None
  if images is not None:
    return images[:limit or None]
  if split == 'test' and key == 'image':
    batches = ((b['image'][b['mask'] > 0]) for b in source.eval_batches())
  else:
    limit = limit or STREAMED_TRAIN_EXAMPLES
    batches = (b[key] for b in source.train_batches(0))
  images, count = [], 0
  for chunk in batches:
    images.append(np.asarray(chunk))
    count += len(chunk)
    if limit and count >= limit:
      break
  return np.concatenate(images)[:limit or None]


def batched(fn, images: np.ndarray, size: int = FEATURE_BATCH):
  """fn over images in chunks of `size`, outputs concatenated (a pytree of arrays)."""
  outs = [jax.device_get(fn(jnp.asarray(images[i:i + size]))) for i in range(0, len(images), size)]
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)


@EVALUATORS.register('sample_grid')
def sample_grid_evaluator(name: str, spec, context: dict, every_steps: int) -> PictureEvaluator:
  method, workdir = needs(context, 'method', name), needs(context, 'workdir', name)
  return PictureEvaluator(name, every_steps,
                          lambda state, step: save_image_grid(method.grid(state), step_path(workdir, 'samples', step)))


def scorer_reference(scorer, source, feature_name: str) -> dict:
  """The scorer's real-image reference: train feature statistics, test-vs-train Fréchet distance and
  the real test images' confident share."""
  probs_fn = jax.jit(scorer)
  whole = 1 << 30  # each split in one call: the reference numbers do not depend on a batch size
  _, train_features = batched(probs_fn, real_images(source, 'train'), size=whole)
  test_probs, test_features = batched(probs_fn, real_images(source, 'test'), size=whole)
  mu, sigma = feature_statistics(train_features)
  return {'mu': mu, 'sigma': sigma,
          f'fd_{feature_name}_real': frechet_distance(*feature_statistics(test_features), mu, sigma),
          'confident_frac_real': float(np.mean(test_probs.max(-1) >= 0.9))}


@EVALUATORS.register('scorer')
def scorer_evaluator(name: str, spec, context: dict, every_steps: int) -> StepEvaluator:
  method, source, scorer = (needs(context, key, name) for key in ('method', 'source', 'scorer'))
  feature_name = spec.get('feature_name', 'digits')
  # At the first evaluation, not at set-up: a dry run builds the evaluators without a trained scorer.
  reference = functools.cache(lambda: scorer_reference(scorer, source, feature_name))

  def eval_step(state, batch):
    probs, features = scorer(method.generate(state, batch)['images'])
    return {'probs': probs, 'features': features, 'mask': batch['mask']}

  def summarise(outputs):
    mask = np.concatenate([o['mask'] for o in outputs]) > 0
    probs = np.concatenate([o['probs'] for o in outputs])[mask]
    features = np.concatenate([o['features'] for o in outputs])[mask]
    predicted = np.bincount(probs.argmax(-1), minlength=probs.shape[-1]) / len(probs)
    return {'confident_frac': float(np.mean(probs.max(-1) >= 0.9)), 'min_class_frac': float(predicted.min()),
            f'fd_{feature_name}': frechet_distance(*feature_statistics(features), reference()['mu'],
                                                   reference()['sigma']),
            **{k: v for k, v in reference().items() if k not in ('mu', 'sigma')}, 'num_examples': float(len(probs))}
  plot_keys = tuple(spec.get('plot_keys', ('confident_frac', f'fd_{feature_name}')))
  return StepEvaluator(name, every_steps, eval_step, method.eval_batches, summarise, reduce='collect',
                       plot_keys=plot_keys)


@EVALUATORS.register('fid')
def fid_evaluator(name: str, spec, context: dict, every_steps: int) -> Optional[StepEvaluator]:
  """Off while spec.weights is '' (pytorch-fid .pth, torchvision .pth or Keras .h5 Inception-v3).
  spec.real = 'target' compares with the second domain's real images (CycleGAN's A -> B);
  spec.direction names another generator of the method (method.extras['directions'][name]:
  (generate, eval_batches); CycleGAN's 'ba'); spec.metric names the result ('fid' and 'kid' by default,
  'fid_ba' gives fid_ba and kid_ba)."""
  if not spec.get('weights'):
    return None
  method, source, workdir = (needs(context, key, name) for key in ('method', 'source', 'workdir'))
  generate, eval_batches = method.generate, method.eval_batches
  if spec.get('direction'):
    directions = method.extras.get('directions', {})
    if spec.direction not in directions:
      raise UserError(f'evals.{name}.direction {spec.direction!r} is not one of this method\'s: '
                      f'{", ".join(directions) or "none"}')
    generate, eval_batches = directions[spec.direction]
  real_key, metric = spec.get('real', 'image'), spec.get('metric', 'fid')
  features = make_fid_features(spec.weights, spec.get('image_size', 299))
  cache = 'fid_real_features.npy' if real_key == 'image' else f'fid_real_features_{real_key}.npy'
  real = cached_features(os.path.join(workdir, cache),
                         lambda: batched(jax.jit(features), real_images(source, 'train', spec.get('real_examples', 0),
                                                                     real_key)))

  def eval_step(state, batch):
    return {'inception': features(generate(state, batch)['images']), 'mask': batch['mask']}

  def summarise(outputs):
    mask = np.concatenate([o['mask'] for o in outputs]) > 0
    generated = np.concatenate([o['inception'] for o in outputs])[mask]
    kid, _ = kernel_distance(generated, real, num_subsets=10, subset_size=1000)
    return {metric: frechet_distance_of_features(generated, real), metric.replace('fid', 'kid', 1): kid}
  return StepEvaluator(name, every_steps, eval_step, eval_batches, summarise, reduce='collect',
                       plot_keys=tuple(spec.get('plot_keys', (metric,))))
