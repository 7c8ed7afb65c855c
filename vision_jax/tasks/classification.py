"""Image classification (config.task == 'classification'): cross-entropy with optional label
smoothing, gradient accumulation, transfer learning from config.init_from, config.evals
(by default the 'accuracy' evaluator every config.eval_every_steps). The source's card (class
names, input shape, normalisation) goes to WORKDIR/source.json. With config.predict_image set (a
file or a folder), the run instead classifies those images with WORKDIR's checkpoint
(vision_jax/inference/folder.py).
"""

import functools

import flax.linen as nn
import jax
import optax
from absl import logging

from vision_jax import models
from vision_jax.data import build_source
from vision_jax.evaluation.evaluators import build_evaluators
from vision_jax.data.source import Source, write_card
from vision_jax.tasks.registry import TASKS
from vision_jax.tasks.use_trained import run_instead_of_training
from vision_jax.train import parallel
from vision_jax.train.loop import Method, Outcome, dry_run_report, prepare_workdir, train_and_evaluate
from vision_jax.train.losses import correct_top_k, cross_entropy_loss
from vision_jax.train.optimizers import optimizer_from_config
from vision_jax.train.state import TrainState, create_train_state, place_like
from vision_jax.train.steps import accumulated_gradients, apply_for_training, check_accum_steps
from vision_jax.weights.pretrained import load_pretrained
from vision_jax.weights.transfer import merge_pretrained

Batch = dict[str, jax.Array]


def make_train_step(model: nn.Module, learning_rate_fn: optax.Schedule,
                    label_smoothing: float = 0.0, accum_steps: int = 1, freeze: str = '',
                    freeze_batch_stats: str = ''):
  """Returns the pure train_step(state, batch, rng) -> (state, metrics).

  With accum_steps > 1 the global batch runs as that many microbatches and their gradients are
  averaged. BatchNorm layers matched by `freeze` or `freeze_batch_stats` use running statistics.
  """

  def loss_fn(params, batch_stats, micro: Batch, rng: jax.Array):
    (logits, _), batch_stats = apply_for_training(model, params, batch_stats, micro['image'], rng,
                                                  freeze, freeze_batch_stats)
    loss = cross_entropy_loss(logits, micro['label'], label_smoothing).mean()
    return loss, ({'accuracy': correct_top_k(logits, micro['label'], 1).mean()}, batch_stats)

  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def train_step(state: TrainState, batch: Batch, rng: jax.Array):
    rng = jax.random.fold_in(rng, state.step)
    (loss, (metrics, batch_stats)), grads = accumulated_gradients(
        grad_fn, state.params, state.batch_stats, batch, rng, accum_steps)
    new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
    return new_state, {'loss': loss, **metrics, 'grad_norm': optax.global_norm(grads),
                       'learning_rate': learning_rate_fn(state.step)}

  return train_step


def initialize_from_pretrained(state: TrainState, init_from: str, model_name: str, model: nn.Module,
                               image_shape: tuple[int, ...]) -> TrainState:
  """Replaces a new state's params and BatchNorm statistics with pretrained ones; a head whose
  class count differs keeps its fresh initialisation."""
  head = models.head_name(model_name)
  fresh = jax.device_get(state.variables())
  loaded = load_pretrained(init_from, model_name, model, image_shape, skip_head=head)
  merged, reinitialised = merge_pretrained(fresh, loaded, head, init_from)
  logging.info('initialised from %s; re-initialised: %s', init_from, ', '.join(reinitialised) or 'nothing')
  return place_like(merged, state)


def build(config) -> tuple[Method, list, nn.Module, Source]:
  """Validates the config (fast, before any data is read); returns the Method, its evaluators, the
  model and the data source."""
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
  method = Method(
      create_state=functools.partial(create_train_state, model=model, tx=tx, image_shape=image_shape),
      train_step=make_train_step(model, lr_fn, config.get('label_smoothing', 0.0), accum_steps, freeze,
                                 freeze_batch_stats),
      train_batches=source.train_batches, initialize=initialize)
  return method, build_evaluators(config, {'model': model, 'source': source}), model, source


def train(config, workdir: str) -> tuple[Outcome, nn.Module]:
  """Trains and evaluates a classifier in workdir (resuming what is there): (Outcome with the final
  state, the model)."""
  method, evaluators, model, source = build(config)
  workdir = prepare_workdir(workdir)
  write_card(workdir, source)
  return train_and_evaluate(config, workdir, method, evaluators), model


@TASKS.register('classification')
def run(config, workdir: str, dry_run: bool = False):
  """Train and evaluate, or export or predict with the workdir's model (tasks/use_trained.py)."""
  if dry_run:
    return dry_run_report(config, build(config)[0])
  if run_instead_of_training(config, workdir):
    return None
  return train(config, workdir)[0].final
