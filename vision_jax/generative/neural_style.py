"""Neural style by optimisation (Gatys et al. 2016), config.method == 'neural_style': the image
itself is the one trained "network" (a Canvas holding its pixels, with its own Adam state, so the
shared loop checkpoints and resumes it), started from the content photo (the source's one image).

Loss = content_weight x the feature MSE at content_layer + style_weight x the Gram distances at
style_layers (generative/style_losses.py) + tv_weight x total variation, on the features of a
frozen, pretrained classifier (config.neural_style.network with config.init_from); the style is the
photo config.style (a path or a bundled name), its central square at the content's size.
After each update the pixels are clipped to the image range. The 'neural_style' evaluator logs the
three terms now and at the start, the classifier's top-5 on the stylised image (and whether the
content photo's own top-1 class is among them), and writes WORKDIR/stylised.png.
"""

import functools
import json
import os
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib.image
import ml_collections
import numpy as np

from vision_jax import models
from vision_jax.data.images import center_crop_resize, read_rgb
from vision_jax.errors import UserError
from vision_jax.evaluation.evaluators import EVALUATORS, StepEvaluator, needs
from vision_jax.generative.method import METHODS, GenerativeMethod
from vision_jax.generative.state import Network
from vision_jax.generative.style_losses import content_loss, gram_matrix, style_loss, total_variation
from vision_jax.train.optimizers import create_learning_rate_fn, create_optimizer
from vision_jax.weights.imagenet_classes import imagenet_class_names
from vision_jax.weights.pretrained import load_pretrained


class Canvas(nn.Module):
  """No inputs -> the image being optimised, (1, H, W, C), initialised by `initial()`."""
  initial: Callable[[], np.ndarray]

  @nn.compact
  def __call__(self, train: bool = True):
    return self.param('pixels', lambda key: jnp.asarray(self.initial(), jnp.float32))[None]


def feature_network(config, image_size: int):
  """(features(images) -> {layer: map}, logits(images)) of the frozen pretrained classifier."""
  name = config.neural_style.network
  model = models.build_model(ml_collections.ConfigDict({'name': name}), 1000)
  variables = load_pretrained(config.init_from, name, model, (image_size, image_size, 3))

  def apply(images):
    return model.apply(variables, images, train=False)
  return (lambda images: apply(images)[1]), (lambda images: apply(images)[0])


def style_targets(features, style_image: jax.Array, layers) -> list[jax.Array]:
  out = features(style_image)
  missing = [name for name in layers if name not in out]
  if missing:
    raise UserError(f'style layers {", ".join(missing)} are not features of the network; choose from: '
                    f'{", ".join(out)}')
  return [gram_matrix(out[name]) for name in layers]


def make_loss_terms(features, content: jax.Array, style_image: jax.Array, style):
  """terms(image) -> {'content_loss', 'style_loss', 'tv_loss'} (unweighted) for one (1, H, W, C) image."""
  grams = style_targets(features, style_image, style.style_layers)
  content_target = features(content)[style.content_layer]
  weights = tuple(style.get('layer_weights') or (1.0,) * len(style.style_layers))

  def terms(image):
    out = features(image)
    return {'content_loss': content_loss(out[style.content_layer], content_target),
            'style_loss': style_loss([out[name] for name in style.style_layers], grams, weights),
            'tv_loss': total_variation(image)}
  return terms


def weighted(terms: dict, style) -> jax.Array:
  return (style.content_weight * terms['content_loss'] + style.style_weight * terms['style_loss']
          + style.tv_weight * terms['tv_loss'])


def make_train_step(terms_fn, style, lr_fn, low: jax.Array, high: jax.Array):
  """train_step(state, batch, rng): one optimiser step on the canvas, then its pixels are clipped
  to [low, high] (the normalised image range)."""
  def train_step(state, batch, rng):
    del batch, rng
    net = state.nets['image']

    def objective(params):
      terms = terms_fn(params['pixels'][None])
      return weighted(terms, style), terms
    (loss, terms), grads = jax.value_and_grad(objective, has_aux=True)(net.params)
    net = net.apply_gradients(grads=grads)
    net = net.replace(params={'pixels': jnp.clip(net.params['pixels'], low, high)})
    return state.replace(nets={'image': net}), {'loss': loss, **terms, 'learning_rate': lr_fn(net.step - 1)}
  return train_step


def read_style(spec: str, image_size: int) -> np.ndarray:
  if not spec:
    raise UserError('no style image given: set --config.style=PATH (or a bundled name such as sklearn:flower)')
  return center_crop_resize(read_rgb(spec), image_size, 1.0)[None] / 255.0


@METHODS.register('neural_style')
def build(config, source) -> GenerativeMethod:
  if source.image_shape[-1] != 3:
    raise UserError(f'neural style needs an RGB content image, got {source.image_shape[-1]} channels')
  size = source.image_shape[0]
  mean, std = np.asarray(source.mean, np.float32), np.asarray(source.std, np.float32)
  content = source.split_images('train')  # (1, H, W, 3), normalised
  style_image = (read_style(config.style, size) - mean) / std
  features, logits = feature_network(config, size)
  settings = config.neural_style
  terms_fn = jax.jit(make_loss_terms(features, jnp.asarray(content), jnp.asarray(style_image), settings))
  lr_fn = create_learning_rate_fn(config.schedule, config.num_train_steps)
  tx = create_optimizer(config.optimizer, lr_fn)
  canvas = Canvas(functools.partial(np.array, content[0]))
  networks = {'image': Network(canvas, tx, ())}
  low, high = (0.0 - mean) / std, (1.0 - mean) / std

  def generate(state, batch):
    return {'images': state.nets['image'].params['pixels'][None], 'mask': batch['mask']}

  def grid(state):
    """One row: content, style, stylised, in [-1, 1]."""
    images = np.concatenate([content, style_image, np.asarray(generate(state, {'mask': None})['images'])])
    return ((images * std + mean) * 2 - 1)[None]

  return GenerativeMethod(networks=networks,
                          train_step=make_train_step(terms_fn, settings, lr_fn, jnp.asarray(low), jnp.asarray(high)),
                          generate=generate, eval_batches=source.eval_batches, grid=grid,
                          extras={'terms': terms_fn, 'content': content, 'logits': jax.jit(logits)})


@EVALUATORS.register('neural_style')
def neural_style_evaluator(name: str, spec, context: dict, every_steps: int) -> StepEvaluator:
  """content_loss, style_loss, tv_loss of the stylised image (and `*_start` of the content photo,
  where the optimisation starts); the classifier's top-5 (`top5` names) and `content_class_kept`:
  1 when the content photo's top-1 class is in the stylised image's top 5. Writes WORKDIR/stylised.png
  and WORKDIR/stylised_top5.json (the class names)."""
  method, source, workdir = (needs(context, key, name) for key in ('method', 'source', 'workdir'))
  terms_fn, content, logits_fn = (method.extras[key] for key in ('terms', 'content', 'logits'))
  mean, std = np.asarray(source.mean, np.float32), np.asarray(source.std, np.float32)
  start = {f'{k}_start': float(v) for k, v in terms_fn(jnp.asarray(content)).items()}
  content_top1 = int(np.argmax(logits_fn(jnp.asarray(content))[0]))

  def eval_step(state, batch):
    image = method.generate(state, batch)['images']
    return {**terms_fn(image), 'logits': logits_fn(image)[0], 'image': image[0]}

  def summarise(outputs):
    out = outputs[0]
    top5 = [int(i) for i in np.argsort(-np.asarray(out['logits']))[:5]]
    matplotlib.image.imsave(os.path.join(workdir, 'stylised.png'), np.clip(np.asarray(out['image']) * std + mean, 0, 1))
    names = imagenet_class_names()
    with open(os.path.join(workdir, 'stylised_top5.json'), 'w') as f:
      json.dump({'content_top1': names[content_top1], 'top5': [names[i] for i in top5]}, f, indent=1)
    return {**{k: float(out[k]) for k in ('content_loss', 'style_loss', 'tv_loss')}, **start,
            'content_class_kept': float(content_top1 in top5)}
  return StepEvaluator(name, every_steps, eval_step, method.eval_batches, summarise, reduce='collect',
                       plot_keys=tuple(spec.get('plot_keys', ('style_loss', 'content_loss'))))
