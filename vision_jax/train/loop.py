"""The shared training loop every task runs: state, resume, steps, eval, checkpoints, metrics.

A task supplies a `Task` (its state initialiser, pure train/eval steps, eval summary
and data source); everything else (mesh, sharding, orbax resume, logging, plots,
divergence handling) lives here once.
"""

import dataclasses
import os
import tempfile
from typing import Any, Callable, Optional

import jax
import numpy as np
from absl import logging

from vision_jax.errors import UserError
from vision_jax.train import parallel
from vision_jax.train.checkpoint import Checkpointer, abstract_like
from vision_jax.train.metrics import MetricWriter, Progress, read_metrics, summary_line
from vision_jax.train.plots import plot_curves
from vision_jax.train.state import TrainState, from_checkpoint, to_checkpoint

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Task:
  """What a task plugs into the loop.

  create_state(rng) -> TrainState                      pure; jitted once
  train_step(state, batch, rng) -> (state, metrics)    pure; metrics are global means
  eval_step(state, batch) -> sums                      pure; masked sums over the batch
  summarise_eval(sums) -> metrics                      host side, from the summed eval dict
  source                                               a vision_jax.data source
  collect_eval: summarise_eval gets the list of every batch's host outputs instead of their
                sum (detection: per-image detections for mAP)
  after_eval(step, state)                              optional; main process, after each eval
                                                       (GANs: the fixed-noise sample grid)
  """
  create_state: Callable[[jax.Array], TrainState]
  train_step: Callable[[TrainState, Batch, jax.Array], tuple[TrainState, Metrics]]
  eval_step: Callable[[TrainState, Batch], Metrics]
  summarise_eval: Callable[[dict], dict]
  source: Any
  initialize: Optional[Callable[[TrainState], TrainState]] = None
  collect_eval: bool = False
  plot_keys: tuple[str, ...] = ('loss', 'accuracy')
  after_eval: Optional[Callable[[int, TrainState], None]] = None


class TrainingDiverged(UserError):
  """A non-finite loss or gradient: the run stops and keeps its last good checkpoint."""


def prepare_workdir(workdir: str) -> str:
  """Creates workdir and checks it is writable, as one clear error if not."""
  workdir = os.path.abspath(workdir)
  try:
    os.makedirs(workdir, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=workdir):
      pass
  except OSError as e:
    raise UserError(f'workdir {workdir} is not writable: {e.strerror or e}') from None
  return workdir


def write_config(config, workdir: str) -> None:
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort(indent=2, sort_keys=True) + '\n')


def _mean_metrics(pending: list[Metrics]) -> dict:
  fetched = jax.device_get(pending)
  return {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}


def _check_finite(metrics: dict, step: int, last_good: Optional[int], workdir: str) -> None:
  bad = [k for k in ('loss', 'grad_norm') if k in metrics and not np.isfinite(metrics[k])]
  if bad:
    kept = (f'the last good checkpoint is step {last_good} in {workdir}/checkpoints'
            if last_good is not None else 'no checkpoint was saved')
    raise TrainingDiverged(f'{" and ".join(bad)} became non-finite by step {step}; stopping ({kept}). '
                           'Lower the learning rate or enable optimizer.grad_clip_norm')


def evaluate(p_eval_step, state: TrainState, task: Task, mesh) -> dict:
  """Runs eval_step over the whole eval split once and summarises the summed (or collected) outputs."""
  totals, collected = None, []
  for batch in parallel.prefetch_to_mesh(task.source.eval_batches(), mesh):
    outputs = p_eval_step(state, batch)
    if task.collect_eval:
      collected.append(jax.device_get(outputs))
    else:
      totals = outputs if totals is None else jax.tree.map(lambda a, b: a + b, totals, outputs)
  return task.summarise_eval(collected if task.collect_eval else jax.device_get(totals))


def _is_due(step: int, every: int, last: int) -> bool:
  return step == last or (every > 0 and step % every == 0)


def train_and_evaluate(config, workdir: str, task: Task) -> Optional[dict]:
  """Trains `task` for config.num_train_steps, resuming from WORKDIR/checkpoints; returns the
  final eval record."""
  is_main = jax.process_index() == 0
  mesh = parallel.data_mesh()
  repl = parallel.replicated(mesh)
  init_rng, train_rng = jax.random.split(jax.random.PRNGKey(config.seed))
  state = jax.jit(task.create_state, out_shardings=repl)(init_rng)
  train_rng = jax.device_put(train_rng, repl)

  ckpt = Checkpointer(workdir, config.checkpoint_every_steps, config.keep_checkpoints)
  restored = ckpt.restore_latest(abstract_like({'state': to_checkpoint(state), 'rng': train_rng}))
  start_step, last_good = 0, None
  if restored is not None:
    start_step, tree = restored
    last_good = start_step
    state, train_rng = from_checkpoint(state, tree['state']), tree['rng']
    logging.info('resumed from %s/%d', ckpt.directory, start_step)
  elif task.initialize is not None:
    state = task.initialize(state)
  if is_main:
    write_config(config, workdir)

  num_steps = config.num_train_steps
  writer = MetricWriter(workdir, start_step, enabled=is_main)
  progress = Progress(start_step, num_steps, config.batch_size)
  p_train_step = jax.jit(task.train_step, in_shardings=(repl, parallel.batch_sharded(mesh), repl),
                         out_shardings=(repl, repl), donate_argnums=(0,))
  p_eval_step = jax.jit(task.eval_step, in_shardings=(repl, parallel.batch_sharded(mesh)),
                        out_shardings=repl)
  batches = parallel.prefetch_to_mesh(task.source.train_batches(start_step), mesh)

  pending: list[Metrics] = []
  last_eval = None
  for step in range(start_step + 1, num_steps + 1):
    state, metrics = p_train_step(state, next(batches), train_rng)
    pending.append(metrics)
    log_now = _is_due(step, config.log_every_steps, num_steps)
    save_now = _is_due(step, config.checkpoint_every_steps, num_steps)
    if log_now or save_now:
      # Host sync only here: check divergence before anything is logged or saved.
      train_metrics = _mean_metrics(pending)
      pending.clear()
      _check_finite(train_metrics, step, last_good, workdir)
      if log_now:
        rates = progress.update(step)
        writer.write(step, 'train', {**train_metrics, **rates})
        logging.info(progress.line(step, rates, {'loss': train_metrics['loss']}))
    if _is_due(step, config.eval_every_steps, num_steps):
      last_eval = writer.write(step, 'eval', evaluate(p_eval_step, state, task, mesh))
      logging.info(summary_line(last_eval, 'eval'))
      if task.after_eval is not None and is_main:
        task.after_eval(step, state)
    if save_now and ckpt.save(step, {'state': to_checkpoint(state), 'rng': train_rng},
                              force=step == num_steps):
      last_good = step
  ckpt.close()

  if last_eval is None:
    evals = [r for r in read_metrics(writer.path) if r['split'] == 'eval' and r['step'] == num_steps]
    last_eval = evals[-1] if evals else writer.write(
        num_steps, 'eval', evaluate(p_eval_step, state, task, mesh))
  writer.close()
  if is_main:
    plot_curves(writer.path, os.path.join(workdir, 'plots', 'curves.png'), task.plot_keys)
  return last_eval
