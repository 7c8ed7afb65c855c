"""Orbax checkpoints in WORKDIR/checkpoints: periodic saves, newest N kept, auto-resume, and reading a
workdir's newest checkpoint for init_from and prediction.

Orbax writes each step to a temporary folder and renames it when complete, so a
run killed mid-write leaves the previous checkpoint intact. A checkpoint that
cannot be restored is reported by path and never overwritten or deleted.
"""

import logging as std_logging
import os
import sys
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp
from absl import logging
from jax.experimental import multihost_utils

from vision_jax.errors import UserError, first_line, root_cause


# Files every complete checkpoint of ours holds (orbax 0.12 StandardSave with OCDBT).
REQUIRED_FILES = ('_CHECKPOINT_METADATA', 'default/_METADATA', 'default/manifest.ocdbt')


class Damaged(Exception):
  """A checkpoint that cannot be read (files missing, truncated or corrupt); the message says how."""


class Checkpointer:
  """Saves and restores a pytree ({'state': ..., 'rng': ...}) by step."""

  def __init__(self, workdir: str, save_every_steps: int, keep: int):
    self.directory = os.path.abspath(os.path.join(workdir, 'checkpoints'))
    if os.path.exists(self.directory) and not os.path.isdir(self.directory):
      raise UserError(f'{self.directory} exists and is not a directory')
    # Synchronous saves: orbax 0.12.8's async path raced with its own finalisation here
    # ("Checkpoint directory does not exist: N.orbax-checkpoint-tmp/...") when tf.data
    # threads kept the CPUs busy. A save now blocks the loop for its duration.
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, save_interval_steps=save_every_steps,
                                           create=True, enable_async_checkpointing=False)
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> Optional[int]:
    return self.manager.latest_step()

  def restore_latest(self, abstract_target: Any, fall_back: bool = False) -> Optional[tuple[int, Any]]:
    """(step, pytree) from the newest checkpoint, or None when there is none. A damaged one stops
    the run with one line; with fall_back (config.restore = 'latest_valid') the newest one that
    restores is used, and each newer, damaged one is moved to N.damaged (kept) with a warning."""
    damaged: list[tuple[str, str]] = []
    for step in sorted(self.manager.all_steps(), reverse=True):
      path = os.path.join(self.directory, str(step))
      try:
        restored = self._restore(step, abstract_target, path)
      except Damaged as e:
        if not fall_back:
          raise UserError(f'checkpoint {path} is damaged ({e}); it was left untouched: relaunch with '
                          '--config.restore=latest_valid to resume from the newest checkpoint that restores') from None
        damaged.append((path, str(e)))
        continue
      for bad, reason in damaged:
        logging.warning('checkpoint %s is damaged (%s): resuming from step %d; it is kept as %s',
                        bad, reason, step, self._set_aside(bad))
      return step, restored
    if damaged:
      raise UserError(f'no checkpoint in {self.directory} restores (the newest, {damaged[0][0]}: {damaged[0][1]}); '
                      'all were left untouched: use another --workdir')
    return None

  def _restore(self, step: int, abstract_target: Any, path: str) -> Any:
    """The pytree of checkpoint `step`: a UserError when it does not fit this config, Damaged when it
    cannot be read. Shapes are checked first: a restore that fails part-way leaves reads in flight."""
    missing = self._missing_file(path)
    if missing:
      raise Damaged(missing)
    quiet_leftover_reads()   # before the metadata read too: a damaged one leaves reads in flight as well
    mismatch = self._first_mismatch(step, abstract_target)
    if mismatch:
      raise UserError(f'checkpoint {path} cannot be restored into this config ({mismatch}); it was '
                      'left untouched: use another --workdir or move the checkpoint away')
    try:
      return self.manager.restore(step, args=ocp.args.StandardRestore(abstract_target))
    except Exception as e:  # orbax and TensorStore raise many types for damaged data
      raise Damaged(first_line(root_cause(e))[:300]) from None

  def _first_mismatch(self, step: int, abstract_target: Any) -> Optional[str]:
    """The first leaf the checkpoint lacks or holds with another shape, as a message; None if all fit."""
    try:
      metadata = ocp.CheckpointManager(self.directory, item_handlers=ocp.StandardCheckpointHandler()).item_metadata(step)
      stored = {_path_name(p): tuple(m.shape) for p, m in jax.tree_util.tree_flatten_with_path(metadata)[0]}
    except Exception as e:  # unreadable metadata: a damaged checkpoint
      raise Damaged(f'unreadable metadata: {first_line(root_cause(e))[:300]}') from None
    leaves = [(_path_name(p), leaf) for p, leaf in jax.tree_util.tree_flatten_with_path(abstract_target)[0]]
    for name, leaf in sorted(leaves, key=lambda item: '/params/' not in item[0]):  # parameters first
      if name not in stored:
        return f'it has no {name}'
      if stored[name] != tuple(leaf.shape):
        return f'{name} has shape {stored[name]}, this config needs {tuple(leaf.shape)}'
    return None

  def save(self, step: int, pytree: Any, force: bool = False) -> bool:
    """Saves when `step` is due (or forced); returns whether it saved."""
    return self.manager.save(step, args=ocp.args.StandardSave(pytree), force=force)

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


  @staticmethod
  def _missing_file(path: str) -> Optional[str]:
    """Which file a complete checkpoint has that this one lacks (orbax names them), or None."""
    for name in REQUIRED_FILES:
      if not os.path.exists(os.path.join(path, name)):
        return f'{name} is missing'
    return None

  def _set_aside(self, path: str) -> str:
    """Renames a damaged checkpoint to PATH.damaged (never deletes it), so that this run's own save of
    that step cannot collide with it; all processes wait for the rename. Returns the new path."""
    target = f'{path}.damaged'
    suffix = 1
    while os.path.exists(target):
      suffix += 1
      target = f'{path}.damaged{suffix}'
    if jax.process_index() == 0:
      os.rename(path, target)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f'set aside {path}')
    self.manager.reload()
    return target


LEFTOVER_READ_ERRORS = ('Event loop is closed', 'Encountered error while reading array index')


class _DropLeftoverReads(std_logging.Filter):
  """Drops asyncio's 'Task exception was never retrieved' for a failed restore's leftover reads."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return not any(text in record.getMessage() for text in LEFTOVER_READ_ERRORS)


def quiet_leftover_reads() -> None:
  """When a restore fails, its reads still in flight fail later, each printing a traceback (as an
  'unraisable' error when TensorStore calls back into orbax's closed event loop, or as asyncio's
  'Task exception was never retrieved'): drops those only, so the run's error stays one line."""
  previous = sys.unraisablehook
  if getattr(previous, 'drops_leftover_reads', False):
    return

  def hook(unraisable):
    if not any(text in str(unraisable.exc_value) for text in LEFTOVER_READ_ERRORS):
      previous(unraisable)
  hook.drops_leftover_reads = True
  sys.unraisablehook = hook
  std_logging.getLogger('asyncio').addFilter(_DropLeftoverReads())


def _path_name(path: tuple) -> str:
  """'state/params/conv1/kernel' from a pytree key path of dicts, dataclasses, tuples or namedtuples."""
  return '/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k)))) for k in path)


def abstract_like(tree: Any) -> Any:
  """ShapeDtypeStructs with shardings, the restore target orbax needs for sharded arrays."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def latest_checkpoint(path: str) -> Optional[str]:
  """The newest step folder of a workdir (or its checkpoints/ folder), if it holds orbax checkpoints."""
  directory = os.path.join(path, 'checkpoints') if os.path.isdir(os.path.join(path, 'checkpoints')) else path
  if not os.path.isdir(directory):
    return None
  steps = [int(name) for name in os.listdir(directory) if name.isdigit()]
  return os.path.join(directory, str(max(steps))) if steps else None


def state_from_checkpoint(step_dir: str, what: str = 'init_from') -> dict:
  """The saved state of one of our own orbax checkpoints as nested dicts, restored as saved (a
  relative step_dir is taken from the working directory: orbax restores absolute paths only)."""
  step_dir = os.path.abspath(step_dir)
  try:
    with ocp.CheckpointManager(os.path.dirname(step_dir), item_handlers=ocp.StandardCheckpointHandler()) as manager:
      tree = manager.restore(int(os.path.basename(step_dir)))
  except Exception as e:
    raise UserError(f'checkpoint {step_dir} cannot be read for {what} ({str(e).splitlines()[0][:200]})') from None
  return tree['state']


def variables_from_checkpoint(step_dir: str, what: str = 'init_from') -> dict:
  """{'params', 'batch_stats'} of a classifier's or detector's checkpoint (state_from_checkpoint)."""
  state = state_from_checkpoint(step_dir, what)
  return {'params': state['params'], **({'batch_stats': state['batch_stats']} if state.get('batch_stats') else {})}
