"""CycleGAN (Zhu et al. 2017), config.method == 'cyclegan': unpaired translation between domains A
(batch 'image') and B (batch 'target', never the same example), after the authors'
models/cycle_gan_model.py.

Two ResNet generators G_AB and G_BA and two PatchGAN discriminators D_A and D_B (models/translation.py),
each its own Adam. One step: both generators minimise the adversarial loss (config.gan.loss; the
paper's is LSGAN) of G_AB(a) under D_B and G_BA(b) under D_A, + cycle_weight (10) x the L1 cycle
errors |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b|, + identity_weight (0.5) x cycle_weight x the
identity errors |G_AB(b) - b| and |G_BA(a) - a|; then each discriminator judges real images against
fakes drawn through its history pool of pool_size (50) earlier fakes (generative/image_pool.py),
which lives in state.buffers so a relaunch resumes exactly. Both generators keep an EMA; evaluators
translate with it (A -> B; the 'fid' evaluator with direction 'ba' scores G_BA on B's test images).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax.errors import UserError
from vision_jax.generative import losses
from vision_jax.generative.image_pool import empty_pool, query
from vision_jax.generative.method import METHODS, GenerativeMethod, build_optimizers, check_gan_config
from vision_jax.generative.state import GenerativeState, Network, apply_ema, apply_with_stats, ema_decay, update_ema
from vision_jax.models.translation import PatchGAN, ResNetGenerator

Batch = dict[str, jax.Array]
GENERATORS, DISCRIMINATORS = ('g_ab', 'g_ba'), ('d_a', 'd_b')


def l1(x, y) -> jax.Array:
  return jnp.mean(jnp.abs(x - y))


def generator_terms(run, judge, a, b, identity: bool) -> dict:
  """The generators' images and loss terms for real batches a and b. run(name, x) -> (G_name(x));
  judge(name, x) -> D_name's logits. Returns fakes and reconstructions beside the terms."""
  fake_b, fake_a = run('g_ab', a), run('g_ba', b)
  rec_a, rec_b = run('g_ba', fake_b), run('g_ab', fake_a)
  terms = {'adversarial_b': judge('d_b', fake_b), 'adversarial_a': judge('d_a', fake_a),
           'cycle_a': l1(rec_a, a), 'cycle_b': l1(rec_b, b)}
  if identity:
    terms['identity_a'] = l1(run('g_ab', b), b)  # the reference's idt_A = G_A(real_B), against real_B
    terms['identity_b'] = l1(run('g_ba', a), a)
  return {'terms': terms, 'fake_a': fake_a, 'fake_b': fake_b}


def generator_loss(terms: dict, cycle_weight: float, identity_weight: float) -> jax.Array:
  """adversarial_a + adversarial_b + cycle_weight x (cycle_a + cycle_b)
  + identity_weight x cycle_weight x (identity_a + identity_b), as the reference weighs them."""
  loss = terms['adversarial_a'] + terms['adversarial_b'] + cycle_weight * (terms['cycle_a'] + terms['cycle_b'])
  if 'identity_a' in terms:
    loss += identity_weight * cycle_weight * (terms['identity_a'] + terms['identity_b'])
  return loss


def make_train_step(modules: dict, gan_config, cycle_config, g_lr_fn):
  """train_step(state, batch, rng) -> (state, metrics) over state.nets g_ab, g_ba, d_a, d_b and
  state.buffers pool_a, pool_b."""
  d_loss_fn, g_loss_fn = losses.LOSSES[gan_config.loss]
  identity = cycle_config.identity_weight > 0

  def g_objective(g_params, g_stats, nets, a, b):
    stats = dict(g_stats)

    def run(name, x):
      out, stats[name] = apply_with_stats(modules[name], g_params[name], stats[name], x, train=True)
      return out

    def judge(name, x):
      logits, _ = apply_with_stats(modules[name], nets[name].params, nets[name].batch_stats, x, train=True)
      return g_loss_fn(logits)
    out = generator_terms(run, judge, a, b, identity)
    loss = generator_loss(out['terms'], cycle_config.cycle_weight, cycle_config.identity_weight)
    return loss, (stats, out)

  def d_objective(params, stats, name, real, fake):
    real_logits, stats = apply_with_stats(modules[name], params, stats, real, train=True)
    fake_logits, stats = apply_with_stats(modules[name], params, stats, fake, train=True)
    return d_loss_fn(real_logits, fake_logits), stats

  def train_step(state: GenerativeState, batch: Batch, rng: jax.Array):
    nets, pools = dict(state.nets), dict(state.buffers)
    step = nets['g_ab'].step
    rng = jax.random.fold_in(rng, step)
    a, b = batch['image'], batch['target']
    g_params = {n: nets[n].params for n in GENERATORS}
    g_stats = {n: nets[n].batch_stats for n in GENERATORS}
    (g_loss, (g_stats, out)), g_grads = jax.value_and_grad(g_objective, has_aux=True)(g_params, g_stats, nets, a, b)
    for n in GENERATORS:
      nets[n] = nets[n].apply_gradients(grads=g_grads[n], batch_stats=g_stats[n])
    metrics = {'g_loss': g_loss, **out['terms']}
    d_grads = {}
    for name, real, fake, pool, key in (('d_a', a, out['fake_a'], 'pool_a', 0), ('d_b', b, out['fake_b'], 'pool_b', 1)):
      pools[pool], shown = query(pools[pool], jax.lax.stop_gradient(fake), jax.random.fold_in(rng, key))
      (d_loss, d_stats), d_grads[name] = jax.value_and_grad(d_objective, has_aux=True)(
          nets[name].params, nets[name].batch_stats, name, real, shown)
      nets[name] = nets[name].apply_gradients(grads=d_grads[name], batch_stats=d_stats)
      metrics[f'{name}_loss'] = d_loss
    decay = ema_decay(gan_config.ema_decay, step)
    ema = {n: update_ema(state.ema[n], nets[n], decay) for n in GENERATORS}
    metrics.update(d_loss=metrics['d_a_loss'] + metrics['d_b_loss'], learning_rate=g_lr_fn(step),
                   grad_norm=optax.global_norm((g_grads, d_grads)))
    return state.replace(nets=nets, ema=ema, buffers=pools), metrics

  return train_step


def domain_b_shape(source, batch) -> tuple[int, ...]:
  """Domain B's image shape (an unpaired source's target_shape, else an eval batch's paired target);
  a UserError for data without a second domain."""
  if source.target_shape:
    return tuple(source.target_shape)
  if 'target' not in batch:
    raise UserError("cyclegan needs two domains: batches with a 'target' image (dataset.name "
                    "'digit_domains' with dataset.domain 'unpaired', or a cycle_gan/* TFDS dataset)")
  return tuple(batch['target'].shape[1:])


def domain_b_batches(source):
  """eval_batches() of domain B's test images: an unpaired source's own, else the paired targets."""
  if source.target_shape:
    return source.target_batches
  return lambda: ({'image': b['target'], 'mask': b['mask']} for b in source.eval_batches())


def check_identity(config, shape_a, shape_b) -> None:
  if config.cyclegan.identity_weight > 0 and shape_a[-1] != shape_b[-1]:
    raise UserError(f'cyclegan.identity_weight needs both domains with the same channels, got {shape_a[-1]} (A) '
                    f'and {shape_b[-1]} (B): set dataset.a_channels = {shape_b[-1]} or identity_weight = 0')


def make_generator(config, out_channels: int) -> ResNetGenerator:
  c = config.cyclegan
  return ResNetGenerator(width=c.g_width, num_blocks=c.g_blocks, out_channels=out_channels, norm=c.norm)


@METHODS.register('cyclegan')
def build(config, source) -> GenerativeMethod:
  check_gan_config(config)
  c = config.cyclegan
  first = next(iter(source.eval_batches()))
  shape_a, shape_b = tuple(source.image_shape), domain_b_shape(source, first)
  check_identity(config, shape_a, shape_b)
  generator = functools.partial(make_generator, config)
  discriminator = PatchGAN(width=c.d_width, num_layers=c.d_layers, norm=c.norm)
  modules = {'g_ab': generator(shape_b[-1]), 'g_ba': generator(shape_a[-1]), 'd_a': discriminator, 'd_b': discriminator}
  g_lr_fn, g_tx, d_tx = build_optimizers(config)
  example = {'g_ab': shape_a, 'g_ba': shape_b, 'd_a': shape_a, 'd_b': shape_b}
  networks = {name: Network(module, g_tx if name in GENERATORS else d_tx, (jnp.zeros((2, *example[name])),),
                            ema=name in GENERATORS)
              for name, module in modules.items()}
  buffers = {'pool_a': empty_pool(c.pool_size, shape_a), 'pool_b': empty_pool(c.pool_size, shape_b)}
  shown = np.asarray(first['image'][:c.grid_images])

  def generate(state, batch):
    images = apply_ema(modules['g_ab'], state, 'g_ab', batch['image'])
    return {'images': images, 'reconstructions': apply_ema(modules['g_ba'], state, 'g_ba', images),
            'mask': batch['mask']}

  def grid(state):
    out = jax.jit(generate)(state, {'image': shown, 'mask': np.ones(len(shown))})
    as_rgb = lambda x: np.broadcast_to(x, x.shape[:-1] + (max(shape_a[-1], shape_b[-1]),))
    return np.stack([as_rgb(shown), as_rgb(np.asarray(out['images'])), as_rgb(np.asarray(out['reconstructions']))])

  def generate_ba(state, batch):
    return {'images': apply_ema(modules['g_ba'], state, 'g_ba', batch['image']), 'mask': batch['mask']}

  return GenerativeMethod(networks=networks, train_step=make_train_step(modules, config.gan, c, g_lr_fn),
                          generate=generate, eval_batches=source.eval_batches, grid=grid, buffers=buffers,
                          extras={'directions': {'ba': (generate_ba, domain_b_batches(source))}},
                          card={'target_shape': list(shape_b)})
