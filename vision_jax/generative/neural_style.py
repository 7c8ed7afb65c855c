"""Neural style by optimisation (Gatys et al. 2016), config.method == 'neural_style': the image
itself is the one trained "network" (a Canvas holding its pixels, with its own Adam state, so the
shared loop checkpoints and resumes it), started from the content photo (the source's one image).

It minimises the perceptual loss of generative/perceptual.py: content_weight x the feature MSE at
content_layer + style_weight x the Gram distances at style_layers + tv_weight x total variation, on
a frozen, pretrained classifier; the style is the photo config.style (a path or a bundled name),
its central square at the content's size. After each update the pixels are clipped to the image
range. The 'neural_style' evaluator (perceptual.py) scores the result and writes WORKDIR/stylised.png.
"""

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.generative.method import METHODS, GenerativeMethod
from vision_jax.generative.perceptual import PerceptualLoss, build_perceptual_loss, to_unit_range
from vision_jax.generative.state import Network
from vision_jax.train.optimizers import create_learning_rate_fn, create_optimizer


class Canvas(nn.Module):
  """No inputs -> the image being optimised, (1, H, W, C), initialised by `initial()`."""
  initial: Callable[[], np.ndarray]

  @nn.compact
  def __call__(self, train: bool = True):
    return self.param('pixels', lambda key: jnp.asarray(self.initial(), jnp.float32))[None]


def make_train_step(loss: PerceptualLoss, targets: jax.Array, lr_fn, low: jax.Array, high: jax.Array):
  """train_step(state, batch, rng): one optimiser step on the canvas against the content photo's
  features `targets`, then its pixels are clipped to [low, high] (the normalised image range)."""
  def train_step(state, batch, rng):
    del batch, rng
    net = state.nets['image']

    def objective(params):
      terms = loss.terms(params['pixels'][None], targets)
      return loss.weighted(terms), terms
    (value, terms), grads = jax.value_and_grad(objective, has_aux=True)(net.params)
    net = net.apply_gradients(grads=grads)
    net = net.replace(params={'pixels': jnp.clip(net.params['pixels'], low, high)})
    return state.replace(nets={'image': net}), {'loss': value, **terms, 'learning_rate': lr_fn(net.step - 1)}
  return train_step


@METHODS.register('neural_style')
def build(config, source) -> GenerativeMethod:
  loss, logits = build_perceptual_loss(config, source)
  mean, std = np.asarray(source.mean, np.float32), np.asarray(source.std, np.float32)
  content = source.split_images('train')  # (1, H, W, 3), normalised
  style_image = np.asarray(loss.style_image)
  lr_fn = create_learning_rate_fn(config.schedule, config.num_train_steps)
  networks = {'image': Network(Canvas(functools.partial(np.array, content[0])),
                               create_optimizer(config.optimizer, lr_fn), ())}
  low, high = jnp.asarray((0.0 - mean) / std), jnp.asarray((1.0 - mean) / std)

  def generate(state, batch):
    return {'images': state.nets['image'].params['pixels'][None], 'mask': batch['mask']}

  def grid(state):
    """One row: content, style, stylised."""
    images = np.concatenate([content, style_image, np.asarray(generate(state, {'mask': None})['images'])])
    return to_unit_range(images, mean, std)[None]

  targets = jax.jit(loss.content_targets)(jnp.asarray(content))
  return GenerativeMethod(networks=networks, train_step=make_train_step(loss, targets, lr_fn, low, high),
                          generate=generate, eval_batches=source.eval_batches, grid=grid,
                          extras={'loss': loss, 'logits': logits})
