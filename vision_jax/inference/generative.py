"""Predictors of the generative methods, from a workdir's EMA generator weights (the ones its
evaluators sample): DCGAN samples, inpainting of given images (and holes), pix2pix and CycleGAN
translation, fast neural style. Images come back uint8 at the model's size. Gatys neural style
optimises one image and trains no network: it has no predictor."""

from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.data.eval_inputs import classification_input
from vision_jax.data.source import StoredSource
from vision_jax.errors import UserError
from vision_jax.generative import cyclegan, dcgan, fast_style, inpaint, pix2pix
from vision_jax.generative.state import apply_with_stats
from vision_jax.inference.inputs import Image, batched_apply
from vision_jax.inference.predictors import PREDICTORS, Predictor
from vision_jax.train.checkpoint import state_from_checkpoint


def to_pixels(images: np.ndarray, mean, std) -> np.ndarray:
  """Normalised images -> uint8 pixels."""
  return np.clip(np.round((np.asarray(images, np.float32) * std + mean) * 255.0), 0, 255).astype(np.uint8)


class ImageToImage(Predictor):
  """predict(images) -> [uint8 (S, S, C) output image]: each image prepared as the eval split is
  (config.dataset's resize or centre crop to the model's size), then `apply`."""

  def __init__(self, config, source: StoredSource, variables, apply, batch_size: int = 16):
    super().__init__(config, source, variables, classification_input(config.dataset, source.image_shape[0]),
                     apply, batch_size)

  def result(self, image, output):
    return to_pixels(output, self.source.mean, self.source.std)


def generator_apply(module, train: bool = False):
  """apply(variables {'params', 'batch_stats'}, images) of an image-to-image generator."""
  return lambda variables, x: apply_with_stats(module, variables['params'], variables.get('batch_stats'), x,
                                               train=train)[0]


class Inpainter(ImageToImage):
  """predict(images, holes=None) -> [uint8 completed image]: holes are (S, S) arrays at the model's
  size, 1 where pixels are missing; None uses the evaluation's holes (config.inpaint.mask)."""

  def __init__(self, config, source, variables, batch_size: int = 16):
    g = inpaint.build_generator(config.inpaint, source.image_shape)
    fill = jnp.asarray(source.method['fill'], jnp.float32)
    super().__init__(config, source, variables, lambda v, x, holes: inpaint.complete(g, v, x, holes, fill)[2], batch_size)

  def predict(self, images: Sequence[Image], holes: Optional[Sequence[np.ndarray]] = None) -> list:
    images = self.as_list(images)
    if not images:
      return []
    inputs = self.prepare([self.read(i) for i in images])
    size = self.source.image_shape[0]
    if holes is None:
      holes = np.asarray(inpaint.eval_holes(self.config.inpaint, len(inputs), size))
    holes = np.asarray(holes, np.float32).reshape(len(inputs), size, size, 1)
    return [self.result(None, o) for o in batched_apply(self._apply, self.variables, (inputs, holes), self.batch_size)]


class Sampler:
  """DCGAN's generator: sample(n, labels=None, seed=0) -> (n, S, S, C) uint8 images (labels: class
  indices of a conditional G, default cycling 0, 1, ...)."""

  def __init__(self, config, source: StoredSource, variables: dict, batch_size: int = 64):
    self.config, self.source, self.variables, self.batch_size = config, source, variables, batch_size
    g = dcgan.make_generator(config, source.image_shape, source.num_classes)
    self._apply = jax.jit(lambda v, z, y: apply_with_stats(g, v['params'], v.get('batch_stats'), z, y,
                                                            train=config.gan.sample_batch_stats)[0])

  def sample(self, n: int, labels: Optional[Sequence[int]] = None, seed: int = 0) -> np.ndarray:
    z = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), (n, self.config.gan.latent_dim)))
    labels = np.asarray(np.arange(n) % self.source.num_classes if labels is None else labels, np.int32)
    return to_pixels(batched_apply(self._apply, self.variables, (z, labels), self.batch_size), self.source.mean,
                     self.source.std)

  def predict(self, images, **options):
    raise UserError('a DCGAN generator takes noise, not images: use sample(n)')


class Translator:
  """CycleGAN's two generators: predict(images, direction='AtoB' | 'BtoA') -> [uint8 image]."""

  def __init__(self, directions: dict):
    self.directions = directions

  def predict(self, images: Sequence[Image], direction: str = 'AtoB') -> list:
    if direction not in self.directions:
      raise UserError(f'unknown direction {direction!r}; choose one of: {", ".join(self.directions)}')
    return self.directions[direction].predict(images)


def ema_variables(step_dir: str, name: str) -> dict:
  """Network `name`'s EMA {'params', 'batch_stats'} of a generative checkpoint."""
  ema = state_from_checkpoint(step_dir, 'prediction')['ema'][name]
  return {'params': ema['params'], 'batch_stats': ema.get('batch_stats') or {}}


def with_shape(source: StoredSource, shape) -> StoredSource:
  """The stored source seen from another domain (its image shape)."""
  return StoredSource({**source.card, 'image_shape': list(shape)})


def method_predictor(config, source, step_dir: str, batch_size: int):
  """The predictor of config.method's trained networks."""
  method = config.method
  if method == 'dcgan':
    return Sampler(config, source, ema_variables(step_dir, 'g'), batch_size)
  if method == 'inpaint':
    return Inpainter(config, source, ema_variables(step_dir, 'g'), batch_size)
  if method == 'pix2pix':
    g = pix2pix.make_generator(config, source.method['target_shape'][-1])
    return ImageToImage(config, source, ema_variables(step_dir, 'g'), generator_apply(g), batch_size)
  if method == 'cyclegan':
    shape_b = source.method['target_shape']
    ab = cyclegan.make_generator(config, shape_b[-1])
    ba = cyclegan.make_generator(config, source.image_shape[-1])
    return Translator({
        'AtoB': ImageToImage(config, source, ema_variables(step_dir, 'g_ab'), generator_apply(ab), batch_size),
        'BtoA': ImageToImage(config, with_shape(source, shape_b), ema_variables(step_dir, 'g_ba'), generator_apply(ba),
                             batch_size)})
  if method == 'fast_style':
    stylise = fast_style.make_stylise(fast_style.make_transform(config), jnp.asarray(source.mean), jnp.asarray(source.std))
    params = state_from_checkpoint(step_dir, 'prediction')['nets']['transform']['params']
    return ImageToImage(config, source, params, stylise, batch_size)
  raise UserError(f'generative method {method!r} trains no network to predict with '
                  '(neural style optimises its one image: the result is WORKDIR/plots)')


@PREDICTORS.register('generative')
def generative(config, source, workdir: str, step_dir: str, batch_size: int):
  return method_predictor(config, source, step_dir, batch_size)
