"""Pieces every train step shares: the training-mode apply with frozen layers, and gradient
accumulation over microbatches (the same update with less activation memory)."""

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from vision_jax.errors import UserError
from vision_jax.train.freezing import frozen_batch_norm, stop_frozen_gradients

Batch = dict[str, jax.Array]
SAMPLE_STREAM = 0x5A3  # folds the step's key into the 'sample' stream's


def apply_for_training(model: nn.Module, params, batch_stats, images: jax.Array, rng: jax.Array,
                       freeze: str = '', freeze_batch_stats: str = '', **kwargs):
  """(model outputs, new batch_stats) in training mode: frozen parameters get no gradient and
  BatchNorm layers matched by `freeze` or `freeze_batch_stats` use their running statistics.
  `kwargs` go to the model (a two-stage detector takes its targets this way). The model draws
  dropout from the 'dropout' RNG stream and any sampling (RoIs) from the 'sample' stream."""
  variables = {'params': stop_frozen_gradients(params, freeze)}
  mutable = []
  if batch_stats:
    variables['batch_stats'], mutable = batch_stats, ['batch_stats']
  with nn.intercept_methods(frozen_batch_norm(freeze, freeze_batch_stats)):
    outputs, updates = model.apply(variables, images, train=True, rngs={'dropout': rng, 'sample': jax.random.fold_in(rng, SAMPLE_STREAM)}, mutable=mutable,
                                   **kwargs)
  return outputs, updates.get('batch_stats', batch_stats)


def microbatches(batch: Batch, accum_steps: int) -> Batch:
  """(B, ...) -> (accum_steps, B // accum_steps, ...), taking rows i, i + accum_steps, ...

  Strided rows keep each microbatch spread over every device of the 'data' axis.
  """
  def split(x):
    return jnp.swapaxes(x.reshape((x.shape[0] // accum_steps, accum_steps) + x.shape[1:]), 0, 1)
  return jax.tree.map(split, batch)


GradFn = Callable[[Any, Any, Batch, jax.Array], tuple[tuple[jax.Array, tuple[dict, Any]], Any]]


def accumulated_gradients(grad_fn: GradFn, params, batch_stats, batch: Batch, rng: jax.Array,
                          accum_steps: int = 1):
  """((loss, (metrics, batch_stats)), grads) of grad_fn(params, batch_stats, batch, rng), where
  grad_fn = jax.value_and_grad(loss_fn, has_aux=True) and loss_fn returns (loss, (metrics, stats)).

  With accum_steps > 1 the batch runs as that many microbatches in a lax.scan (BatchNorm
  statistics threaded through); gradients, loss and metrics are their means.
  """
  if accum_steps == 1:
    return grad_fn(params, batch_stats, batch, rng)

  def accumulate(carry, inputs):
    grads_sum, stats, loss_sum, metrics_sum = carry
    index, micro = inputs
    (loss, (metrics, stats)), grads = grad_fn(params, stats, micro, jax.random.fold_in(rng, index))
    add = lambda a, b: jax.tree.map(jnp.add, a, b)
    return (add(grads_sum, grads), stats, loss_sum + loss, add(metrics_sum, metrics)), None

  split = microbatches(batch, accum_steps)
  first = jax.tree.map(lambda x: x[0], split)
  metrics_shape = jax.eval_shape(grad_fn, params, batch_stats, first, rng)[0][1][0]
  zeros = lambda tree: jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), tree)
  init = (zeros(params), batch_stats, jnp.zeros(()), zeros(metrics_shape))
  (grads, stats, loss, metrics), _ = jax.lax.scan(accumulate, init, (jnp.arange(accum_steps), split))
  mean = lambda tree: jax.tree.map(lambda x: x / accum_steps, tree)
  return (loss / accum_steps, (mean(metrics), stats)), mean(grads)


def check_accum_steps(accum_steps: int, global_batch_size: int) -> None:
  """accum_steps must split the global batch into microbatches that still cover every device."""
  if accum_steps < 1 or global_batch_size % (accum_steps * jax.device_count()):
    raise UserError(f'accum_steps {accum_steps} must be >= 1 and divide batch_size '
                    f'{global_batch_size} into microbatches that split over {jax.device_count()} devices')
