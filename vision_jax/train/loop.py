"""The shared training loop every task runs: state, resume, steps, evaluators, checkpoints, metrics.

A task hands the loop a `Method` (state initialiser, pure train step, its train batches) and the
evaluators its config names; everything else (mesh, sharding, orbax resume, logging, plots,
divergence handling) lives here once. The loop requires no particular metric keys: every train
metric whose name contains 'loss', and `grad_norm`, is checked for non-finite values.
"""

import dataclasses
import os
import tempfile
from typing import Any, Callable, Iterator, Optional, Protocol, Sequence

import jax
import numpy as np
from absl import logging

from vision_jax.errors import UserError
from vision_jax.train import parallel
from vision_jax.train.checkpoint import Checkpointer, abstract_like
from vision_jax.train.metrics import MetricWriter, Progress, read_metrics, summary_line
from vision_jax.train.plots import plot_curves
from vision_jax.train.preemption import Preempted, PreemptionNotice
from vision_jax.train.state import from_checkpoint, to_checkpoint

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
State = Any


class Evaluator(Protocol):
  """An evaluation the loop runs on its own cadence (see vision_jax/evaluation/).

  name         the metrics.jsonl split of its record; evaluators sharing a name share one record
  every_steps  > 0: at each multiple of it and at the last step; 0: at the last step only
  plot_keys    the metrics WORKDIR/plots/curves.png shows for it
  __call__(state, step) -> metrics (host floats; may be empty, e.g. for pictures)
  """
  name: str
  every_steps: int
  plot_keys: tuple[str, ...]

  def __call__(self, state: State, step: int) -> dict: ...


@dataclasses.dataclass(frozen=True)
class Method:
  """What a task plugs into the loop.

  create_state(rng) -> state                          pure; jitted once, replicated
  train_step(state, batch, rng) -> (state, metrics)   pure; metrics are global means
  train_batches(start_step) -> iterator of this process's numpy batches, resumable
  initialize(state) -> state                          optional; a fresh (not resumed) run only,
                                                      e.g. pretrained weights
  """
  create_state: Callable[[jax.Array], State]
  train_step: Callable[[State, Batch, jax.Array], tuple[State, Metrics]]
  train_batches: Callable[[int], Iterator[dict]]
  initialize: Optional[Callable[[State], State]] = None


@dataclasses.dataclass
class Outcome:
  """What a run ends with: the final state and the last record of each evaluator name."""
  state: State
  records: dict[str, dict]

  @property
  def final(self) -> Optional[dict]:
    """The last records merged into one (the run's closing summary): the 'eval' record as it is,
    another evaluator's metrics as NAME_metric; None without evaluators."""
    if not self.records:
      return None
    merged = dict(self.records.get('eval', {}))
    for name, record in self.records.items():
      if name != 'eval':
        merged.update({f'{name}_{k}': v for k, v in record.items() if k not in ('step', 'split')})
        merged.setdefault('step', record['step'])
    return merged


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


def loss_keys(metrics: dict) -> list[str]:
  """The metrics a method reports as losses: every name containing 'loss'."""
  return [k for k in metrics if 'loss' in k]


def _mean_metrics(pending: list[Metrics]) -> dict:
  fetched = jax.device_get(pending)
  return {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}


def check_finite(metrics: dict, step: int, last_good: Optional[int], workdir: str) -> None:
  """TrainingDiverged naming the non-finite losses (or grad_norm) and the checkpoint kept."""
  bad = [k for k in loss_keys(metrics) + ['grad_norm'] if k in metrics and not np.isfinite(metrics[k])]
  if bad:
    kept = (f'the last good checkpoint is step {last_good} in {workdir}/checkpoints'
            if last_good is not None else 'no checkpoint was saved')
    raise TrainingDiverged(f'{" and ".join(bad)} became non-finite by step {step}; stopping ({kept}). '
                           'Lower the learning rate or enable optimizer.grad_clip_norm')


def check_not_beyond(stored_step: Optional[int], num_train_steps: int, workdir: str) -> None:
  """UserError when WORKDIR's checkpoint is past num_train_steps: its weights and its metrics
  describe a longer run, so neither resuming nor reporting could be right."""
  if stored_step is not None and stored_step > num_train_steps:
    raise UserError(f'{workdir} holds step {stored_step}, beyond num_train_steps {num_train_steps}: raise '
                    'num_train_steps to continue that run, or give a new workdir')


def is_due(step: int, every: int, last: int) -> bool:
  return step == last or (every > 0 and step % every == 0)


def run_evaluators(evaluators: Sequence[Evaluator], state: State, step: int, writer: MetricWriter) -> dict[str, dict]:
  """Runs the evaluators; writes one record per evaluator name that reported metrics."""
  by_name: dict[str, dict] = {}
  for evaluator in evaluators:
    by_name.setdefault(evaluator.name, {}).update(evaluator(state, step))
  records = {}
  for name, metrics in by_name.items():
    if metrics:
      records[name] = writer.write(step, name, metrics)
      logging.info(summary_line(records[name], name))
  return records


def _stored_final_records(path: str, step: int) -> dict[str, dict]:
  """The records at `step` a finished run wrote before (a relaunch of a finished workdir)."""
  return {r['split']: r for r in read_metrics(path) if r['step'] == step and r['split'] != 'train'}


def plot_keys(train_metrics: dict, evaluators: Sequence[Evaluator]) -> tuple[str, ...]:
  """The curves worth a panel: the reported losses, then each evaluator's headline metrics."""
  losses = ['loss'] if 'loss' in train_metrics else loss_keys(train_metrics)[:3]
  keys = losses + [k for e in evaluators for k in e.plot_keys]
  return tuple(dict.fromkeys(keys))


def split_seed(seed: int) -> tuple[jax.Array, jax.Array]:
  """(init key, train key) of config.seed."""
  init_rng, train_rng = jax.random.split(jax.random.PRNGKey(seed))
  return init_rng, train_rng


def _shapes(tree) -> Any:
  """`tree` (host or device arrays) as jax.ShapeDtypeStructs."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), tree)


def trained_parameters(state) -> int:
  """How many values the optimizer trains: every TrainState's .params in `state` (the EMA copies and
  optimizer moments not counted)."""
  leaves = jax.tree_util.tree_flatten_with_path(state)[0]
  return int(sum(np.prod(x.shape) for path, x in leaves
                 if any(getattr(k, 'name', None) == 'params' for k in path)))


def _megabytes(tree) -> float:
  return sum(np.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree)) / 2**20


def dry_run_report(config, method: Method) -> dict:
  """Sets `method` up without training or compiling: reads the data source's first batch and
  traces the state and one train step to shapes (jax.eval_shape); returns what they hold. Every
  config check, data source and model constructor has run by then, so a config that passes is one
  whose training can start (memory aside: nothing is placed on a device)."""
  init_rng, train_rng = jax.eval_shape(lambda: split_seed(config.seed))
  state = jax.eval_shape(method.create_state, init_rng)
  batch = _shapes(next(iter(method.train_batches(0))))
  _, metrics = jax.eval_shape(method.train_step, state, batch, train_rng)
  return {'split': 'dry_run',
          'parameters': trained_parameters(state),
          'state_mb': round(float(_megabytes(state)), 3),
          'batch': {jax.tree_util.keystr(path, simple=True, separator='/'): f'{np.dtype(v.dtype).name}{list(v.shape)}'
                    for path, v in jax.tree_util.tree_flatten_with_path(batch)[0]},
          'train_metrics': sorted(metrics)}


def dry_run_line(report: dict) -> str:
  """The dry run's closing line (launch.py --dry_run)."""
  batch = ' '.join(f'{k}={v}' for k, v in report['batch'].items())
  step = f"; train step traced ({', '.join(report['train_metrics'])})" if 'train_metrics' in report else ''
  return (f"dry run: the config checks pass, the data and the model set up; {report['parameters']:,} "
          f"parameters, state {report['state_mb']:.1f} MB; first batch {batch}{step}; nothing trained or written")


def train_and_evaluate(config, workdir: str, method: Method, evaluators: Sequence[Evaluator] = ()) -> Outcome:
  """Trains `method` for config.num_train_steps, resuming from WORKDIR/checkpoints, running each
  evaluator on its cadence; returns the final state and the last records."""
  is_main = jax.process_index() == 0
  mesh = parallel.data_mesh()
  repl = parallel.replicated(mesh)
  # Keys made inside jit: device_put of a host-made key to the mesh breaks orbax's save when each
  # process has one device (an array of 2 shards where single-device buffers belong).
  init_rng, train_rng = jax.jit(split_seed, static_argnums=0, out_shardings=(repl, repl))(config.seed)
  state = jax.jit(method.create_state, out_shardings=repl)(init_rng)

  ckpt = Checkpointer(workdir, config.checkpoint_every_steps, config.keep_checkpoints)
  check_not_beyond(ckpt.latest_step(), config.num_train_steps, workdir)
  restored = ckpt.restore_latest(abstract_like({'state': to_checkpoint(state), 'rng': train_rng}),
                                 fall_back=config.get('restore', 'latest') == 'latest_valid')
  start_step, last_good = 0, None
  if restored is not None:
    start_step, tree = restored
    last_good = start_step
    state, train_rng = from_checkpoint(state, tree['state']), tree['rng']
    logging.info('resumed from %s/%d', ckpt.directory, start_step)
  elif method.initialize is not None:
    state = method.initialize(state)
  if is_main:
    write_config(config, workdir)

  num_steps = config.num_train_steps
  writer = MetricWriter(workdir, start_step, enabled=is_main)
  progress = Progress(start_step, num_steps, config.batch_size)
  p_train_step = jax.jit(method.train_step, in_shardings=(repl, parallel.batch_sharded(mesh), repl),
                         out_shardings=(repl, repl), donate_argnums=(0,))
  batches = parallel.prefetch_to_mesh(method.train_batches(start_step), mesh)

  pending: list[Metrics] = []
  records: dict[str, dict] = {}
  train_metrics: dict = {}
  preempted = False
  with PreemptionNotice() as notice:  # SIGTERM handled only while the loop runs, whatever ends it
    for step in range(start_step + 1, num_steps + 1):
      state, metrics = p_train_step(state, next(batches), train_rng)
      pending.append(metrics)
      preempted = notice.reached(step) and step < num_steps
      log_now = is_due(step, config.log_every_steps, num_steps)
      save_now = is_due(step, config.checkpoint_every_steps, num_steps) or preempted
      if log_now or save_now:
        # Host sync only here: check divergence before anything is logged or saved. A train record
        # averages its whole log interval, whatever the checkpoint cadence.
        train_metrics = _mean_metrics(pending)
        check_finite(train_metrics, step, last_good, workdir)
        if log_now:
          # steps_averaged: the log interval, or fewer on the first line after a resume (the steps
          # before the restored checkpoint were averaged into lines the previous run wrote).
          averaged = {'steps_averaged': len(pending)}
          pending.clear()
          rates = progress.update(step)
          writer.write(step, 'train', {**train_metrics, **averaged, **rates})
          shown = {k: train_metrics[k] for k in loss_keys(train_metrics)[:4]}
          logging.info(progress.line(step, rates, shown))
      due = [e for e in evaluators if is_due(step, e.every_steps, num_steps)]
      records.update(run_evaluators(due, state, step, writer))
      if save_now and ckpt.save(step, {'state': to_checkpoint(state), 'rng': train_rng},
                                force=step == num_steps or preempted):
        last_good = step
      if preempted:
        break
  ckpt.close()
  if preempted:
    writer.close()
    raise Preempted(step, ckpt.directory)

  if start_step >= num_steps:  # a finished workdir relaunched: report what it stored
    records = _stored_final_records(writer.path, num_steps)
    missing = [e for e in evaluators if e.name not in records]
    records.update(run_evaluators(missing, state, num_steps, writer))
  writer.close()
  if is_main:
    stored_train = [r for r in read_metrics(writer.path) if r['split'] == 'train']
    train_keys = stored_train[-1] if stored_train else train_metrics
    plot_curves(writer.path, os.path.join(workdir, 'plots', 'curves.png'), plot_keys(train_keys, evaluators))
  return Outcome(state, records)
