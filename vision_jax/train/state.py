"""TrainState: step, params, BatchNorm statistics and optimizer state in one pytree, and its creation."""

from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state


class TrainState(train_state.TrainState):
  """flax's TrainState plus the mutable model collections (BatchNorm `batch_stats`)."""
  batch_stats: Any = None

  def variables(self) -> dict:
    """The variables dict that model.apply takes."""
    if self.batch_stats:
      return {'params': self.params, 'batch_stats': self.batch_stats}
    return {'params': self.params}


def to_checkpoint(state: TrainState) -> dict:
  """The saved pytree: everything but the functions (apply_fn, tx)."""
  return flax.serialization.to_state_dict(state)


def from_checkpoint(template: TrainState, restored: dict) -> TrainState:
  return flax.serialization.from_state_dict(template, restored)


def create_train_state(rng: jax.Array, model: nn.Module, tx: optax.GradientTransformation,
                       image_shape: tuple[int, ...]) -> TrainState:
  """Initialises float32 parameters (and BatchNorm statistics, if any) of `model` from `rng`."""
  variables = model.init({'params': rng, 'dropout': rng}, jnp.zeros((1, *image_shape), jnp.float32))
  return TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx,
                           batch_stats=variables.get('batch_stats'))


def place_like(variables: dict, state: TrainState) -> TrainState:
  """`state` with host `variables` ({'params', 'batch_stats'}) put on the devices its own live on."""
  placed = jax.tree.map(lambda new, old: jax.device_put(new, old.sharding), variables, state.variables())
  return state.replace(params=placed['params'], batch_stats=placed.get('batch_stats'))
