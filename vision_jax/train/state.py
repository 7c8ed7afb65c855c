"""TrainState: step, params, BatchNorm statistics and optimizer state in one pytree."""

from typing import Any

import flax
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
