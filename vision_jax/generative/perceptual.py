"""The perceptual loss of neural style, shared by the optimisation method (neural_style.py; Gatys
et al. 2016) and the feed-forward one (fast_style.py; Johnson et al. 2016): content, Gram-matrix
style and total-variation terms on a frozen, pretrained classifier's features
(config.neural_style.network with config.init_from); and the 'neural_style' evaluator of both.
"""

import dataclasses
import json
import os
from typing import Callable

import jax
import jax.numpy as jnp
import matplotlib.image
import ml_collections
import numpy as np

from vision_jax import models
from vision_jax.data.images import center_crop_resize, read_rgb
from vision_jax.errors import UserError
from vision_jax.evaluation.evaluators import EVALUATORS, StepEvaluator, needs
from vision_jax.generative.style_losses import content_loss, gram_matrix, style_loss, total_variation
from vision_jax.weights.imagenet_classes import imagenet_class_names
from vision_jax.weights.pretrained import load_pretrained

TERMS = ('content_loss', 'style_loss', 'tv_loss')


def feature_network(config, image_size: int):
  """(features(images) -> {layer: map}, logits(images)) of the frozen pretrained classifier."""
  name = config.neural_style.network
  if not config.get('init_from'):
    raise UserError(f'neural style needs the pretrained {name}: set --config.init_from=FILE '
                    "(for vgg19, torchvision's vgg19-dcbbb691.pth)")
  model = models.build_model(ml_collections.ConfigDict({'name': name}), 1000)
  variables = load_pretrained(config.init_from, name, model, (image_size, image_size, 3))

  def apply(images):
    return model.apply(variables, images, train=False)
  return (lambda images: apply(images)[1]), (lambda images: apply(images)[0])


def read_style(spec: str, image_size: int) -> np.ndarray:
  """The style photo (a path or a bundled name): its central square at image_size, in [0, 1]."""
  if not spec:
    raise UserError('no style image given: set --config.style=PATH (or a bundled name such as sklearn:flower)')
  return center_crop_resize(read_rgb(spec), image_size, 1.0)[None] / 255.0


@dataclasses.dataclass(frozen=True)
class PerceptualLoss:
  """content_targets(contents) -> the content layer's features (no gradient);
  terms(images, targets) -> unweighted {'content_loss', 'style_loss', 'tv_loss'} of a batch;
  weighted(terms) -> the loss the config's weights make of them; style_image: normalised (1, H, W, 3)."""
  content_targets: Callable
  terms: Callable
  weighted: Callable
  style_image: jax.Array


def perceptual_loss(features, style_image: jax.Array, settings) -> PerceptualLoss:
  out = features(style_image)
  missing = [name for name in (*settings.style_layers, settings.content_layer) if name not in out]
  if missing:
    raise UserError(f'layers {", ".join(missing)} are not features of {settings.network}; choose from: '
                    f'{", ".join(out)}')
  grams = [gram_matrix(out[name]) for name in settings.style_layers]
  layer_weights = tuple(settings.get('layer_weights') or (1.0,) * len(settings.style_layers))

  def content_targets(contents):
    return jax.lax.stop_gradient(features(contents)[settings.content_layer])

  def terms(images, targets):
    maps = features(images)
    return {'content_loss': content_loss(maps[settings.content_layer], targets),
            'style_loss': style_loss([maps[name] for name in settings.style_layers], grams, layer_weights),
            'tv_loss': total_variation(images)}

  def weighted(values):
    return (settings.content_weight * values['content_loss'] + settings.style_weight * values['style_loss']
            + settings.tv_weight * values['tv_loss'])
  return PerceptualLoss(content_targets, terms, weighted, style_image)


def build_perceptual_loss(config, source):
  """(PerceptualLoss, logits(images)) for a source's RGB images and config.style."""
  if source.image_shape[-1] != 3:
    raise UserError(f'neural style needs RGB content images, got {source.image_shape[-1]} channels')
  size = source.image_shape[0]
  mean, std = np.asarray(source.mean, np.float32), np.asarray(source.std, np.float32)
  features, logits = feature_network(config, size)
  style_image = jnp.asarray((read_style(config.style, size) - mean) / std)
  return perceptual_loss(features, style_image, config.neural_style), jax.jit(logits)


def to_unit_range(images, mean, std):
  """Normalised images -> [-1, 1] for the sample grids."""
  return (images * std + mean) * 2 - 1


def per_image_terms(loss: PerceptualLoss, images, contents) -> dict:
  """The three terms of each image against its own content image."""
  return jax.vmap(lambda x, c: loss.terms(x[None], loss.content_targets(c[None])))(images, contents)


@EVALUATORS.register('neural_style')
def neural_style_evaluator(name: str, spec, context: dict, every_steps: int) -> StepEvaluator:
  """Over the eval photos: content_loss, style_loss and tv_loss of the stylised images and
  `*_start` of the photos themselves (where the optimisation starts); `content_class_kept`, the
  share whose photo's own top-1 ImageNet class is in the stylised image's top 5. Writes the first
  stylised image to WORKDIR/stylised.png and its top 5 to WORKDIR/stylised_top5.json."""
  method, source, workdir = (needs(context, key, name) for key in ('method', 'source', 'workdir'))
  loss, logits_fn = method.extras['loss'], method.extras['logits']
  mean, std = np.asarray(source.mean, np.float32), np.asarray(source.std, np.float32)

  def eval_step(state, batch):
    contents, mask = batch['image'], batch['mask']
    images = method.generate(state, batch)['images']
    now, start = per_image_terms(loss, images, contents), per_image_terms(loss, contents, contents)
    stylised_logits, photo_logits = logits_fn(images), logits_fn(contents)
    top5 = jax.lax.top_k(stylised_logits, 5)[1]
    kept = jnp.any(top5 == jnp.argmax(photo_logits, -1)[:, None], axis=1)
    sums = {k: jnp.sum(v * mask) for k, v in now.items()}
    sums.update({f'{k}_start': jnp.sum(v * mask) for k, v in start.items()})
    return {**sums, 'content_class_kept': jnp.sum(kept * mask), 'count': jnp.sum(mask), 'first': images[0],
            'first_top5': top5[0], 'first_photo_top1': jnp.argmax(photo_logits[0])}

  def summarise(outputs):
    count = max(sum(float(o['count']) for o in outputs), 1.0)
    keys = [*TERMS, *(f'{k}_start' for k in TERMS), 'content_class_kept']
    record = {k: sum(float(o[k]) for o in outputs) / count for k in keys}
    first = outputs[0]
    matplotlib.image.imsave(os.path.join(workdir, 'stylised.png'), np.clip(np.asarray(first['first']) * std + mean, 0, 1))
    names = imagenet_class_names()
    with open(os.path.join(workdir, 'stylised_top5.json'), 'w') as f:
      json.dump({'content_top1': names[int(first['first_photo_top1'])],
                 'top5': [names[int(i)] for i in first['first_top5']]}, f, indent=1)
    return record
  return StepEvaluator(name, every_steps, eval_step, method.eval_batches, summarise, reduce='collect',
                       plot_keys=tuple(spec.get('plot_keys', ('style_loss', 'content_loss'))))
