"""The generative contract's state: a named set of networks, each with its own optimizer state and
BatchNorm/spectral-norm statistics, and an exponential moving average (EMA) of the weights of
those that sample (DCGAN: G and D, EMA of G; CycleGAN: two Gs and two Ds, EMA of both Gs)."""

import dataclasses
import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from vision_jax.train.state import TrainState


@dataclasses.dataclass(frozen=True)
class Network:
  """One network of a method: its module, optimizer, example inputs for init, and whether it
  keeps an EMA of its weights."""
  module: nn.Module
  tx: optax.GradientTransformation
  example_inputs: tuple
  ema: bool = False


@flax.struct.dataclass
class GenerativeState:
  """Everything a generative run resumes from: nets[name] (params, batch_stats, opt_state, step),
  ema[name] = {'params', 'batch_stats'} for the networks with an EMA, and buffers: the method's
  other state (CycleGAN's image pools), so that a resumed run continues exactly."""
  nets: dict[str, TrainState]
  ema: dict[str, dict]
  buffers: dict = flax.struct.field(default_factory=dict)


def create_state(rng: jax.Array, networks: dict[str, Network], buffers: dict | None = None) -> GenerativeState:
  """Initialises every network from its own key (split from `rng` in the order of `networks`);
  `buffers` are the method's initial non-network state."""
  keys = jax.random.split(rng, len(networks))
  nets, ema = {}, {}
  for key, (name, net) in zip(keys, networks.items()):
    variables = net.module.init(key, *net.example_inputs)
    nets[name] = TrainState.create(apply_fn=net.module.apply, params=variables['params'], tx=net.tx,
                                   batch_stats=variables.get('batch_stats'))
    if net.ema:
      ema[name] = {'params': variables['params'], 'batch_stats': variables.get('batch_stats')}
  return GenerativeState(nets=nets, ema=ema, buffers=dict(buffers or {}))


def apply_with_stats(module: nn.Module, params, stats, *args, train: bool, rngs=None):
  """(output, new stats) of a module whose BatchNorm/spectral-norm state is `stats` (may be None);
  rngs for its random layers (pix2pix's dropout)."""
  variables = {'params': params, **({'batch_stats': stats} if stats else {})}
  if not train or not stats:
    return module.apply(variables, *args, train=train, rngs=rngs), stats
  out, updates = module.apply(variables, *args, train=True, mutable=['batch_stats'], rngs=rngs)
  return out, updates['batch_stats']


def ema_decay(target: float, step: jax.Array) -> jax.Array:
  """The EMA starts at the initial weights; a step-dependent decay (as TF's num_updates) stops them
  from lingering in the average early on."""
  step = step.astype(jnp.float32)
  return jnp.minimum(target, (1.0 + step) / (10.0 + step))


def update_ema(ema: dict, net: TrainState, decay: jax.Array) -> dict:
  """The EMA of `net`'s params after its update; statistics follow the raw network."""
  params = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, ema['params'], net.params)
  return {'params': params, 'batch_stats': net.batch_stats}


def apply_ema(module: nn.Module, state: GenerativeState, name: str, *args, batch_stats: bool = False):
  """Output of network `name` with its EMA weights. batch_stats=True normalises with the statistics
  of the batch itself (as DCGAN sampled: the running averages belong to the raw network)."""
  ema = state.ema[name]
  return apply_with_stats(module, ema['params'], ema['batch_stats'], *args,
                          train=batch_stats)[0]
