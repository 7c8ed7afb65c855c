"""Image classification: cross-entropy (optional label smoothing), top-1/top-5 accuracy.

Library of small functions in the style of flax/examples/imagenet/train.py, so each
piece can be imported and used alone (e.g. in a notebook).
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from vision_jax import models
from vision_jax.data import build_source
from vision_jax.train import parallel
from vision_jax.train.loop import Task, train_and_evaluate
from vision_jax.train.optimizers import create_learning_rate_fn, create_optimizer
from vision_jax.train.state import TrainState
from vision_jax.weights.pretrained import load_pretrained
from vision_jax.weights.transfer import (frozen_batch_norm, merge_pretrained, partitioned_optimizer,
                                         stop_frozen_gradients, validate_regexes)

Batch = dict[str, jax.Array]


def cross_entropy_loss(logits: jax.Array, labels: jax.Array, label_smoothing: float = 0.0) -> jax.Array:
  """Per-example softmax cross-entropy in float32 against (optionally smoothed) one-hot labels."""
  targets = jax.nn.one_hot(labels, logits.shape[-1])
  if label_smoothing:
    targets = optax.smooth_labels(targets, label_smoothing)
  return optax.softmax_cross_entropy(logits.astype(jnp.float32), targets)


def correct_top_k(logits: jax.Array, labels: jax.Array, k: int) -> jax.Array:
  """1.0 where the label is among the k highest logits, per example."""
  k = min(k, logits.shape[-1])
  return jnp.any(jax.lax.top_k(logits, k)[1] == labels[:, None], axis=-1).astype(jnp.float32)


def create_train_state(rng: jax.Array, model: nn.Module, tx: optax.GradientTransformation,
                       image_shape: tuple[int, ...]) -> TrainState:
  """Initialises float32 parameters (and BatchNorm statistics, if any) from `rng`."""
  variables = model.init({'params': rng, 'dropout': rng}, jnp.zeros((1, *image_shape), jnp.float32))
  return TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx,
                           batch_stats=variables.get('batch_stats'))


def apply_for_training(model: nn.Module, params, batch_stats, images: jax.Array, rng: jax.Array,
                       freeze: str = '', freeze_batch_stats: str = ''):
  """(model outputs, new batch_stats) in training mode: frozen parameters get no gradient and
  BatchNorm layers matched by `freeze` or `freeze_batch_stats` use their running statistics."""
  variables = {'params': stop_frozen_gradients(params, freeze)}
  mutable = []
  if batch_stats:
    variables['batch_stats'], mutable = batch_stats, ['batch_stats']
  with nn.intercept_methods(frozen_batch_norm(freeze, freeze_batch_stats)):
    outputs, updates = model.apply(variables, images, train=True, rngs={'dropout': rng}, mutable=mutable)
  return outputs, updates.get('batch_stats', batch_stats)


def optimizer_from_config(config) -> tuple[optax.Schedule, optax.GradientTransformation]:
  """(learning-rate schedule, optimizer) with config.freeze / lr_multipliers groups; regexes checked."""
  lr_fn = create_learning_rate_fn(config.schedule, config.num_train_steps)
  freeze, lr_multipliers = config.get('freeze', ''), tuple(config.get('lr_multipliers', ()))
  validate_regexes(freeze, lr_multipliers, config.get('freeze_batch_stats', ''))
  tx = partitioned_optimizer(functools.partial(create_optimizer, config.optimizer), lr_fn, freeze, lr_multipliers)
  return lr_fn, tx


def _microbatches(batch: Batch, accum_steps: int) -> Batch:
  """(B, ...) -> (accum_steps, B // accum_steps, ...), taking rows i, i + accum_steps, ...

  Strided rows keep each microbatch spread over every device of the 'data' axis.
  """
  def split(x):
    return jnp.swapaxes(x.reshape((x.shape[0] // accum_steps, accum_steps) + x.shape[1:]), 0, 1)
  return jax.tree.map(split, batch)


def make_train_step(model: nn.Module, learning_rate_fn: optax.Schedule,
                    label_smoothing: float = 0.0, accum_steps: int = 1, freeze: str = '',
                    freeze_batch_stats: str = ''):
  """Returns the pure train_step(state, batch, rng) -> (state, metrics).

  With accum_steps > 1 the global batch is processed as that many microbatches in a
  lax.scan and their gradients averaged: the same update with less activation memory.
  BatchNorm layers matched by `freeze` or `freeze_batch_stats` normalise with their running statistics.
  """

  def loss_and_stats(params, batch_stats, micro: Batch, rng: jax.Array):
    (logits, _), batch_stats = apply_for_training(model, params, batch_stats, micro['image'], rng,
                                                  freeze, freeze_batch_stats)
    loss = cross_entropy_loss(logits, micro['label'], label_smoothing).mean()
    correct = correct_top_k(logits, micro['label'], 1).mean()
    return loss, (correct, batch_stats)

  grad_fn = jax.value_and_grad(loss_and_stats, has_aux=True)

  def train_step(state: TrainState, batch: Batch, rng: jax.Array):
    rng = jax.random.fold_in(rng, state.step)
    if accum_steps == 1:
      (loss, (accuracy, batch_stats)), grads = grad_fn(state.params, state.batch_stats, batch, rng)
    else:
      def accumulate(carry, inputs):
        grads_sum, batch_stats, loss_sum, correct_sum = carry
        index, micro = inputs
        (loss, (correct, batch_stats)), grads = grad_fn(
            state.params, batch_stats, micro, jax.random.fold_in(rng, index))
        grads_sum = jax.tree.map(jnp.add, grads_sum, grads)
        return (grads_sum, batch_stats, loss_sum + loss, correct_sum + correct), None

      zeros = jax.tree.map(jnp.zeros_like, state.params)
      init = (zeros, state.batch_stats, jnp.zeros(()), jnp.zeros(()))
      (grads, batch_stats, loss, accuracy), _ = jax.lax.scan(
          accumulate, init, (jnp.arange(accum_steps), _microbatches(batch, accum_steps)))
      grads = jax.tree.map(lambda g: g / accum_steps, grads)
      loss, accuracy = loss / accum_steps, accuracy / accum_steps
    new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
    metrics = {'loss': loss, 'accuracy': accuracy, 'grad_norm': optax.global_norm(grads),
               'learning_rate': learning_rate_fn(state.step)}
    return new_state, metrics

  return train_step


def make_eval_step(model: nn.Module):
  """Returns eval_step(state, batch) -> masked sums of loss, top-1 and top-5 hits, and count."""

  def eval_step(state: TrainState, batch: Batch):
    logits, _ = model.apply(state.variables(), batch['image'], train=False)
    mask = batch['mask']
    return {'loss': jnp.sum(cross_entropy_loss(logits, batch['label']) * mask),
            'correct': jnp.sum(correct_top_k(logits, batch['label'], 1) * mask),
            'correct5': jnp.sum(correct_top_k(logits, batch['label'], 5) * mask),
            'count': jnp.sum(mask)}

  return eval_step


def summarise_eval(sums: dict) -> dict:
  count = max(float(sums['count']), 1.0)
  return {'loss': float(sums['loss']) / count, 'accuracy': float(sums['correct']) / count,
          'top5_accuracy': float(sums['correct5']) / count, 'num_examples': float(sums['count'])}


def check_accum_steps(accum_steps: int, global_batch_size: int) -> None:
  from vision_jax.errors import UserError
  if accum_steps < 1 or global_batch_size % (accum_steps * jax.device_count()):
    raise UserError(f'accum_steps {accum_steps} must be >= 1 and divide batch_size '
                    f'{global_batch_size} into microbatches that split over {jax.device_count()} devices')


def build_task(config) -> Task:
  """Validates the config (fast, before any data is read) and assembles the classification Task."""
  parallel.check_batch_size('batch_size', config.batch_size)
  parallel.check_batch_size('eval_batch_size', config.eval_batch_size)
  accum_steps = config.get('accum_steps', 1)
  check_accum_steps(accum_steps, config.batch_size)
  lr_fn, tx = optimizer_from_config(config)
  freeze, freeze_batch_stats = config.get('freeze', ''), config.get('freeze_batch_stats', '')
  models.compute_dtype(config.model.get('dtype', 'float32'))
  models.MODELS.get(config.model.name)
  source = build_source(config.dataset, config.batch_size, config.eval_batch_size, config.seed,
                        jax.process_index(), jax.process_count())
  model = models.build_model(config.model, source.num_classes)
  image_shape = tuple(source.image_shape)
  initialize = None
  if config.get('init_from'):
    initialize = functools.partial(initialize_from_pretrained, init_from=config.init_from,
                                   model_name=config.model.name, model=model, image_shape=image_shape)
  return Task(
      create_state=functools.partial(create_train_state, model=model, tx=tx, image_shape=image_shape),
      train_step=make_train_step(model, lr_fn, config.get('label_smoothing', 0.0), accum_steps, freeze,
                                 freeze_batch_stats),
      eval_step=make_eval_step(model),
      summarise_eval=summarise_eval,
      source=source,
      initialize=initialize)


def initialize_from_pretrained(state: TrainState, init_from: str, model_name: str, model: nn.Module,
                               image_shape: tuple[int, ...]) -> TrainState:
  """Replaces a new state's params and BatchNorm statistics with pretrained ones; a head whose
  class count differs keeps its fresh initialisation."""
  from absl import logging
  head = models.head_name(model_name)
  fresh = jax.device_get(state.variables())
  loaded = load_pretrained(init_from, model_name, model, image_shape, skip_head=head)
  merged, reinitialised = merge_pretrained(fresh, loaded, head, init_from)
  logging.info('initialised from %s; re-initialised: %s', init_from, ', '.join(reinitialised) or 'nothing')
  current = state.variables()
  placed = jax.tree.map(lambda new, old: jax.device_put(new, old.sharding), merged, current)
  return state.replace(params=placed['params'], batch_stats=placed.get('batch_stats'))


def run(config, workdir: str) -> Any:
  """Entry point for config.task == 'classification'."""
  return train_and_evaluate(config, workdir, build_task(config))
