"""GAN training (config.task == 'gan'): one jitted step updates D (config.gan.d_steps times), then G,
each with its own optax state, on the shared data mesh; an EMA of G's weights makes the samples.

Evaluation samples config.gan.num_eval_samples images from fixed noise with the EMA generator and
scores them with the project's digits classifier (trained once per workdir from the pinned
config.scorer, in WORKDIR/scorer): `confident_frac` (share labelled with confidence >= 0.9, and
`confident_frac_real` for real test digits), `min_class_frac` (share of the rarest predicted class)
and `fd_digits`, a Fréchet distance on the classifier's penultimate features (not FID) to the real
train digits, beside `fd_digits_real` (real test vs real train). Sample grids of the same fixed noise
go to WORKDIR/samples/step_XXXXXXX.png. With config.gan.fid_weights (an Inception-v3 weights file,
see vision_jax/evaluation/fid.py) the eval line adds `fid` and `kid` against the real train digits.
"""

import functools
import os
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax.data import build_source
from vision_jax.errors import UserError
from vision_jax.evaluation.frechet import feature_statistics, frechet_distance
from vision_jax.gan import losses
from vision_jax.models.dcgan import Discriminator, Generator, check_image_size
from vision_jax.train import parallel
from vision_jax.train.loop import Task, train_and_evaluate
from vision_jax.train.optimizers import create_learning_rate_fn, create_optimizer
from vision_jax.train.state import TrainState

Batch = dict[str, jax.Array]


@flax.struct.dataclass
class GanState:
  """Everything a GAN run resumes from: both networks with their optimizer states and BatchNorm
  statistics, and the EMA of G."""
  g: TrainState
  d: TrainState
  ema_params: Any
  ema_batch_stats: Any


def build_discriminator(config, image_shape, num_classes: int = 0) -> Discriminator:
  """config.gan's DCGAN discriminator for images of image_shape (an unsupported size is one UserError)."""
  check_image_size(image_shape[0])
  return Discriminator(image_size=image_shape[0], widths=tuple(config.gan.d_widths), num_classes=num_classes,
                       spectral_norm=config.gan.spectral_norm)


def build_networks(config, num_classes: int, image_shape) -> tuple[Generator, Discriminator]:
  conditional = num_classes if config.gan.conditional else 0
  d = build_discriminator(config, image_shape, conditional)
  g = Generator(image_size=image_shape[0], channels=image_shape[-1], widths=tuple(config.gan.g_widths),
                num_classes=conditional)
  return g, d


def create_state(rng, g, d, g_tx, d_tx, g_inputs, image_shape) -> GanState:
  """Initial GanState; g_inputs are example generator inputs (noise and labels, or masked images
  and masks), d sees images of image_shape."""
  g_rng, d_rng = jax.random.split(rng)
  g_vars = g.init(g_rng, *g_inputs)
  d_vars = d.init(d_rng, jnp.zeros((2, *image_shape)), jnp.zeros((2,), jnp.int32))
  g_state = TrainState.create(apply_fn=g.apply, params=g_vars['params'], tx=g_tx, batch_stats=g_vars.get('batch_stats'))
  d_state = TrainState.create(apply_fn=d.apply, params=d_vars['params'], tx=d_tx, batch_stats=d_vars.get('batch_stats'))
  return GanState(g=g_state, d=d_state, ema_params=g_vars['params'], ema_batch_stats=g_vars.get('batch_stats'))


def noise_inputs(latent_dim: int):
  """Example generator inputs of a noise-to-image GAN, for create_state."""
  return jnp.zeros((2, latent_dim)), jnp.zeros((2,), jnp.int32)


def apply_with_stats(module, params, stats, *args, train: bool):
  """(output, new stats) of a module whose BatchNorm/spectral-norm state is `stats` (may be None)."""
  variables = {'params': params, **({'batch_stats': stats} if stats else {})}
  if not train or not stats:
    return module.apply(variables, *args, train=train), stats
  out, updates = module.apply(variables, *args, train=True, mutable=['batch_stats'])
  return out, updates['batch_stats']


def noise_synthesizer(g, latent_dim: int):
  """synthesize(g_params, g_stats, batch, rng) for a noise-to-image GAN: G(z, labels), no extra loss."""
  def synthesize(params, stats, batch, rng):
    z = jax.random.normal(rng, (batch['image'].shape[0], latent_dim))
    fake, stats = apply_with_stats(g, params, stats, z, batch['label'], train=True)
    return fake, stats, 0.0, {}
  return synthesize


def make_train_step(d, gan_config, g_lr_fn, synthesize, adversarial_weight: float = 1.0):
  """Returns train_step(state, batch, rng) -> (state, metrics): gan_config.d_steps updates of D, then
  one of G. synthesize(g_params, g_stats, batch, rng) -> (images for D, new G statistics, G's extra
  loss, extra metrics) is the generator's side: noise to images for a GAN, masked images to
  completions (with their reconstruction loss) for inpainting. G minimises
  adversarial_weight * its adversarial loss + the extra loss."""
  d_loss_fn, g_loss_fn = losses.LOSSES[gan_config.loss]
  d_steps = gan_config.d_steps

  def d_objective(d_params, d_stats, real, fake, labels, rng):
    real_logits, d_stats = apply_with_stats(d, d_params, d_stats, real, labels, train=True)
    fake_logits, d_stats = apply_with_stats(d, d_params, d_stats, fake, labels, train=True)
    loss = d_loss_fn(real_logits, fake_logits)
    critic = lambda x: apply_with_stats(d, d_params, d_stats, x, labels, train=True)[0]
    if gan_config.loss == 'wgan_gp':
      loss += gan_config.gp_weight * losses.gradient_penalty(critic, real, fake, rng)
    if gan_config.r1_gamma:
      loss += gan_config.r1_gamma / 2 * losses.r1_penalty(critic, real)
    return loss, (d_stats, jnp.mean(real_logits), jnp.mean(fake_logits))

  def g_objective(g_params, g_stats, d_state, batch, rng):
    fake, g_stats, extra_loss, extra_metrics = synthesize(g_params, g_stats, batch, rng)
    fake_logits, _ = apply_with_stats(d, d_state.params, d_state.batch_stats, fake, batch['label'], train=True)
    adversarial = g_loss_fn(fake_logits)
    return adversarial_weight * adversarial + extra_loss, (g_stats, adversarial, extra_metrics)

  def train_step(state: GanState, batch: Batch, rng: jax.Array):
    rng = jax.random.fold_in(rng, state.g.step)
    real, labels = batch['image'], batch['label']
    d_state = state.d
    for k in range(d_steps):
      z_rng, gp_rng = jax.random.split(jax.random.fold_in(rng, k))
      fake, _, _, _ = synthesize(state.g.params, state.g.batch_stats, batch, z_rng)
      (d_loss, (d_stats, real_mean, fake_mean)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
          d_state.params, d_state.batch_stats, real, jax.lax.stop_gradient(fake), labels, gp_rng)
      d_state = d_state.apply_gradients(grads=d_grads, batch_stats=d_stats)
    (g_loss, (g_stats, adversarial, extra_metrics)), g_grads = jax.value_and_grad(g_objective, has_aux=True)(
        state.g.params, state.g.batch_stats, d_state, batch, jax.random.fold_in(rng, d_steps))
    g_state = state.g.apply_gradients(grads=g_grads, batch_stats=g_stats)
    # The EMA starts at the initial weights; a step-dependent decay (as TF's num_updates) stops them
    # from lingering in the average early on.
    step = state.g.step.astype(jnp.float32)
    decay = jnp.minimum(gan_config.ema_decay, (1.0 + step) / (10.0 + step))
    ema = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, state.ema_params, g_state.params)
    new_state = state.replace(g=g_state, d=d_state, ema_params=ema, ema_batch_stats=g_stats)
    metrics = {'loss': d_loss + g_loss, 'd_loss': d_loss, 'g_loss': g_loss, 'd_real': real_mean,
               'd_fake': fake_mean, 'grad_norm': optax.global_norm((d_grads, g_grads)),
               'learning_rate': g_lr_fn(state.g.step), **extra_metrics}
    if adversarial_weight != 1.0 or extra_metrics:
      metrics['g_adversarial'] = adversarial
    return new_state, metrics

  return train_step


def ema_sample(g, state: GanState, z, labels, batch_stats: bool = True):
  """Images from the EMA generator. batch_stats=True normalises with the statistics of the batch of
  noise itself, as DCGAN sampled (the running averages belong to the raw G, not to its EMA)."""
  return apply_with_stats(g, state.ema_params, state.ema_batch_stats, z, labels, train=batch_stats)[0]


def make_eval_step(g, scorer, batch_stats: bool, fid_features=None):
  """eval_step(state, batch of fixed noise) -> scorer probabilities and features of EMA samples
  (and their Inception pool3 features when FID is on)."""
  def eval_step(state: GanState, batch: Batch):
    images = ema_sample(g, state, batch['z'], batch['label'], batch_stats)
    probs, features = scorer(images)
    out = {'probs': probs, 'features': features, 'mask': batch['mask']}
    if fid_features is not None:
      out['inception'] = fid_features(images)
    return out
  return eval_step


class FixedNoise:
  """Eval 'data' for a GAN: the same noise (and cycling class labels) every evaluation, padded and
  masked like any eval split; training batches come from the real source."""

  def __init__(self, real_source, num_samples: int, latent_dim: int, eval_batch_size: int, seed: int = 1234):
    self.real = real_source
    self.num_classes, self.image_shape = real_source.num_classes, real_source.image_shape
    self.num_eval_examples = num_samples
    rng = np.random.default_rng(seed)
    self.z = rng.standard_normal((num_samples, latent_dim)).astype(np.float32)
    self.labels = (np.arange(num_samples) % self.num_classes).astype(np.int32)
    self.eval_batch_size = eval_batch_size

  def train_batches(self, start_step: int = 0):
    return self.real.train_batches(start_step)

  def eval_batches(self):
    from vision_jax.data.batching import num_batches, pad_batch, process_slice
    b = self.eval_batch_size
    for i in range(num_batches(len(self.z), b)):
      batch = pad_batch({'z': self.z[i * b:(i + 1) * b], 'label': self.labels[i * b:(i + 1) * b]}, b)
      yield process_slice(batch, jax.process_index(), jax.process_count())


def train_scorer(scorer_config, workdir: str):
  """The pinned digits classifier (trained once per workdir, resumed thereafter): returns
  scorer(images in [-1, 1]) -> (softmax probabilities, penultimate features)."""
  from vision_jax import models
  from vision_jax.tasks import classification
  from vision_jax.weights.transfer import latest_checkpoint, variables_from_checkpoint
  directory = os.path.join(workdir, 'scorer')
  classification.run(scorer_config, directory)
  variables = variables_from_checkpoint(latest_checkpoint(directory))
  model = models.build_model(scorer_config.model, 10)

  def scorer(images):
    logits, features = model.apply(variables, images, train=False)
    return jax.nn.softmax(logits.astype(jnp.float32)), features['pre_logits'].astype(jnp.float32)
  return scorer


def real_statistics(source_config, scorer) -> dict:
  """Scorer features and confidences of the real digits: train statistics (the FD reference),
  test-vs-train FD and the real test digits' confident share."""
  from vision_jax.data.digits import load_digits_split
  size = source_config.image_size
  def feats(split):
    images, _ = load_digits_split(split, size, source_config.get('channels', 1))
    x = (images - np.asarray(source_config.mean)) / np.asarray(source_config.std)
    probs, features = jax.jit(scorer)(jnp.asarray(x, jnp.float32))
    return np.asarray(probs), np.asarray(features)
  _, train_features = feats('train')
  test_probs, test_features = feats('test')
  mu, sigma = feature_statistics(train_features)
  return {'mu': mu, 'sigma': sigma, 'fd_digits_real': frechet_distance(*feature_statistics(test_features), mu, sigma),
          'confident_frac_real': float(np.mean(test_probs.max(-1) >= 0.9))}


def summarise_eval(outputs: list[dict], reference: dict, num_classes: int, fid_real=None) -> dict:
  mask = np.concatenate([o['mask'] for o in outputs]) > 0
  probs = np.concatenate([o['probs'] for o in outputs])[mask]
  features = np.concatenate([o['features'] for o in outputs])[mask]
  predicted = np.bincount(probs.argmax(-1), minlength=num_classes) / len(probs)
  metrics = {'confident_frac': float(np.mean(probs.max(-1) >= 0.9)), 'min_class_frac': float(predicted.min()),
             'fd_digits': frechet_distance(*feature_statistics(features), reference['mu'], reference['sigma']),
             'fd_digits_real': reference['fd_digits_real'], 'confident_frac_real': reference['confident_frac_real'],
             'num_examples': float(len(probs))}
  if fid_real is not None:
    from vision_jax.evaluation.frechet import frechet_distance_of_features, kernel_distance
    generated = np.concatenate([o['inception'] for o in outputs])[mask]
    metrics['fid'] = frechet_distance_of_features(generated, fid_real)
    metrics['kid'], _ = kernel_distance(generated, fid_real, num_subsets=10, subset_size=1000)
  return metrics


def fid_reference(config, fid_features, workdir: str):
  """Inception features of the real train images (config.gan.fid_real_examples of them, 0 = all),
  cached in WORKDIR/fid_real_features.npy."""
  from vision_jax.data.digits import load_digits_split
  from vision_jax.evaluation.fid import cached_features
  def compute():
    images, _ = load_digits_split('train', config.dataset.image_size, config.dataset.get('channels', 1))
    images = images[:config.gan.fid_real_examples or None] * 2 - 1
    fn = jax.jit(fid_features)
    return np.concatenate([np.asarray(fn(images[i:i + 50])) for i in range(0, len(images), 50)])
  return cached_features(os.path.join(workdir, 'fid_real_features.npy'), compute)


def save_image_grid(images: np.ndarray, path: str) -> str:
  """Writes (rows, cols, H, W, C) images in [-1, 1] as one picture at `path`."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  rows, cols, h, w, c = images.shape
  grid = ((np.asarray(images) + 1) / 2).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  plt.imsave(path, np.clip(grid[..., 0] if c == 1 else grid, 0, 1), cmap='gray' if c == 1 else None)
  return path


def sample_grid_path(workdir: str, step: int) -> str:
  return os.path.join(workdir, 'samples', f'step_{step:07d}.png')


def save_sample_grid(step: int, state: GanState, g, z, labels, workdir: str, batch_stats: bool = True) -> str:
  """WORKDIR/samples/step_XXXXXXX.png: EMA samples of the fixed noise, in a square grid."""
  host_state = jax.device_get(state)
  images = np.asarray(jax.jit(functools.partial(ema_sample, g, batch_stats=batch_stats))(host_state, z, labels))
  n = int(np.sqrt(len(images)))
  return save_image_grid(images[:n * n].reshape(n, n, *images.shape[1:]), sample_grid_path(workdir, step))


def build_optimizers(config):
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


def build_task(config, workdir: str) -> Task:
  check_gan_config(config)
  if config.gan.sample_batch_stats and config.gan.num_eval_samples % config.eval_batch_size:
    raise UserError(f'gan.num_eval_samples {config.gan.num_eval_samples} must be a multiple of eval_batch_size '
                    f'{config.eval_batch_size} when samples use batch statistics (padding would skew them)')
  real = build_source(config.dataset, config.batch_size, config.eval_batch_size, config.seed,
                      jax.process_index(), jax.process_count())
  image_shape = tuple(real.image_shape)
  g, d = build_networks(config, real.num_classes, image_shape)
  g_lr_fn, g_tx, d_tx = build_optimizers(config)
  scorer = train_scorer(config.scorer, workdir)
  reference = real_statistics(config.dataset, scorer)
  fid_features = fid_real = None
  if config.gan.get('fid_weights'):
    from vision_jax.evaluation.fid import make_fid_features
    fid_features = make_fid_features(config.gan.fid_weights, config.gan.get('fid_image_size', 299))
    fid_real = fid_reference(config, fid_features, workdir)
  source = FixedNoise(real, config.gan.num_eval_samples, config.gan.latent_dim, config.eval_batch_size)
  grid = min(64, config.gan.num_eval_samples)
  return Task(
      create_state=functools.partial(create_state, g=g, d=d, g_tx=g_tx, d_tx=d_tx,
                                     g_inputs=noise_inputs(config.gan.latent_dim), image_shape=image_shape),
      train_step=make_train_step(d, config.gan, g_lr_fn, noise_synthesizer(g, config.gan.latent_dim)),
      eval_step=make_eval_step(g, scorer, config.gan.sample_batch_stats, fid_features),
      summarise_eval=functools.partial(summarise_eval, reference=reference, num_classes=real.num_classes,
                                       fid_real=fid_real),
      source=source, collect_eval=True, plot_keys=('d_loss', 'g_loss', 'confident_frac', 'fd_digits'),
      after_eval=functools.partial(save_sample_grid, g=g, z=source.z[:grid], labels=source.labels[:grid],
                                   workdir=workdir, batch_stats=config.gan.sample_batch_stats))


def run(config, workdir: str) -> Any:
  """Entry point for config.task == 'gan'."""
  return train_and_evaluate(config, workdir, build_task(config, workdir))
