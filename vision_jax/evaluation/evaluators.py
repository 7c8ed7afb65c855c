"""Evaluators built from config (as big_vision's config.evals): each has a name (its metrics.jsonl
split), a cadence and plot keys, and is called by the loop as evaluator(state, step) -> metrics.

config.evals maps a name to {type, every_steps (-1: config.eval_every_steps; 0: last step only),
plot_keys, record (the metrics.jsonl split it writes to; default its name, so 'record': 'eval' adds
its metrics to the main record), ...type-specific keys}. A type is registered here with a builder
build(name, spec, context) -> Evaluator, where `context` holds what the task offers (its model or
detector, data source, workdir, scorer); a builder takes what it needs from it by name, and
returns None when its spec switches it off (e.g. FID without a weights file).
"""

import dataclasses
from typing import Any, Callable, Iterator, Optional

import jax
import ml_collections

from vision_jax.errors import UserError
from vision_jax.registry import Registry
from vision_jax.train import parallel

State = Any
Outputs = dict
EVALUATORS: Registry[Callable[..., Any]] = Registry('evaluator type')


@dataclasses.dataclass
class StepEvaluator:
  """Runs a pure eval_step(state, batch) -> outputs over batches() on the data mesh; the host then
  summarises either the outputs' sum (reduce='sum': masked sums) or the list of every batch's
  outputs (reduce='collect': e.g. per-image detections for AP)."""
  name: str
  every_steps: int
  eval_step: Callable[[State, dict], Outputs]
  batches: Callable[[], Iterator[dict]]
  summarise: Callable[[Any], dict]
  reduce: str = 'sum'
  plot_keys: tuple[str, ...] = ()
  save: Optional[Callable[[Any, int], None]] = None   # save(outputs, step) on the first process (e.g. export)
  _compiled: Optional[Callable] = dataclasses.field(default=None, repr=False)

  def __call__(self, state: State, step: int) -> dict:
    mesh = parallel.data_mesh()
    if self._compiled is None:
      self._compiled = jax.jit(self.eval_step, in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
                               out_shardings=parallel.replicated(mesh))
    totals, collected = None, []
    for batch in parallel.prefetch_to_mesh(self.batches(), mesh):
      outputs = self._compiled(state, batch)
      if self.reduce == 'collect':
        collected.append(jax.device_get(outputs))
      else:
        totals = outputs if totals is None else jax.tree.map(lambda a, b: a + b, totals, outputs)
    outputs = collected if self.reduce == 'collect' else jax.device_get(totals)
    if self.save is not None and jax.process_index() == 0:
      self.save(outputs, step)
    return self.summarise(outputs)


@dataclasses.dataclass
class PictureEvaluator:
  """Draws pictures of the current state on the first process (draw(state, step) -> path);
  reports no metrics."""
  name: str
  every_steps: int
  draw: Callable[[State, int], str]
  plot_keys: tuple[str, ...] = ()

  def __call__(self, state: State, step: int) -> dict:
    if jax.process_index() == 0:
      self.draw(jax.device_get(state), step)
    return {}


def cadence(spec, config) -> int:
  """An evaluator's every_steps: its own, or config.eval_every_steps when it says -1 (the default)."""
  every = spec.get('every_steps', -1)
  return config.eval_every_steps if every == -1 else every


def needs(context: dict, key: str, evaluator: str):
  """context[key], or a UserError saying this task cannot feed that evaluator."""
  if context.get(key) is None:
    raise UserError(f'evaluator {evaluator!r} needs {key}, which this task or config does not provide')
  return context[key]


def build_evaluators(config, context: dict) -> list:
  """The evaluators config.evals names (in sorted name order), built with the task's `context`."""
  evals = config.get('evals') or ml_collections.ConfigDict()
  built = [EVALUATORS.get(evals[name].type)(evals[name].get('record', name), evals[name], context,
                                            cadence(evals[name], config))
           for name in evals.keys()]
  return [evaluator for evaluator in built if evaluator is not None]
