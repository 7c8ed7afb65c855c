"""Feed-forward neural style (Johnson et al. 2016), config.method == 'fast_style': a transform
network (models/translation.py's ResNetGenerator: downsampling, residual blocks, instance norm,
upsampling) trained on many content photos to minimise the perceptual loss of one style
(generative/perceptual.py) against each photo's own features; afterwards one forward pass styles
any photo. config.fast_style sets the network's width and blocks. The 'neural_style' evaluator
scores the held-out photos.
"""

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.generative.method import METHODS, GenerativeMethod
from vision_jax.generative.perceptual import PerceptualLoss, build_perceptual_loss, to_unit_range
from vision_jax.generative.state import Network, apply_with_stats
from vision_jax.models.translation import ResNetGenerator
from vision_jax.train.optimizers import create_learning_rate_fn, create_optimizer


def make_stylise(transform, mean, std):
  """stylise(params, images) -> normalised images: the network's tanh output read as [0, 1] pixels."""
  def stylise(params, images):
    out = apply_with_stats(transform, params, None, images, train=True)[0]
    return ((out + 1) / 2 - mean) / std
  return stylise


def make_train_step(stylise, loss: PerceptualLoss, lr_fn):
  """train_step(state, batch, rng): one update of the transform network on the batch's photos."""
  def train_step(state, batch, rng):
    del rng
    net = state.nets['transform']
    targets = loss.content_targets(batch['image'])

    def objective(params):
      terms = loss.terms(stylise(params, batch['image']), targets)
      return loss.weighted(terms), terms
    (value, terms), grads = jax.value_and_grad(objective, has_aux=True)(net.params)
    return (state.replace(nets={'transform': net.apply_gradients(grads=grads)}),
            {'loss': value, **terms, 'learning_rate': lr_fn(net.step)})
  return train_step


def make_transform(config) -> ResNetGenerator:
  """The image transformation network (Johnson et al.'s residual network, instance norm)."""
  return ResNetGenerator(width=config.fast_style.width, num_blocks=config.fast_style.num_blocks, out_channels=3,
                         norm='instance')


@METHODS.register('fast_style')
def build(config, source) -> GenerativeMethod:
  loss, logits = build_perceptual_loss(config, source)
  mean, std = np.asarray(source.mean, np.float32), np.asarray(source.std, np.float32)
  settings = config.fast_style
  transform = make_transform(config)
  lr_fn = create_learning_rate_fn(config.schedule, config.num_train_steps)
  networks = {'transform': Network(transform, create_optimizer(config.optimizer, lr_fn),
                                   (jnp.zeros((2, *source.image_shape)),))}
  stylise = make_stylise(transform, jnp.asarray(mean), jnp.asarray(std))
  shown = np.asarray(next(iter(source.eval_batches()))['image'][:settings.grid_images])

  def generate(state, batch):
    return {'images': stylise(state.nets['transform'].params, batch['image']), 'mask': batch['mask']}

  def grid(state):
    """Rows: the held-out photos, then their stylised versions."""
    out = np.asarray(jax.jit(generate)(state, {'image': shown, 'mask': None})['images'])
    return to_unit_range(np.stack([shown, out]), mean, std)

  return GenerativeMethod(networks=networks, train_step=make_train_step(stylise, loss, lr_fn),
                          generate=generate, eval_batches=source.eval_batches, grid=grid,
                          extras={'loss': loss, 'logits': logits})
