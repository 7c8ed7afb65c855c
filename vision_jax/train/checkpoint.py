"""Orbax checkpoints in WORKDIR/checkpoints: periodic saves, newest N kept, auto-resume.

Orbax writes each step to a temporary folder and renames it when complete, so a
run killed mid-write leaves the previous checkpoint intact. A checkpoint that
cannot be restored is reported by path and never overwritten or deleted.
"""

import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp

from vision_jax.errors import UserError


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

  def restore_latest(self, abstract_target: Any) -> Optional[tuple[int, Any]]:
    """(step, pytree) from the newest checkpoint, or None when there is none."""
    step = self.latest_step()
    if step is None:
      return None
    path = os.path.join(self.directory, str(step))
    # Shapes are checked first: a restore that fails part-way leaves orbax reads in flight,
    # which print tracebacks at exit.
    mismatch = self._first_mismatch(step, abstract_target, path)
    if mismatch:
      raise UserError(f'checkpoint {path} cannot be restored into this config ({mismatch}); it was '
                      'left untouched: use another --workdir or move the checkpoint away')
    try:
      restored = self.manager.restore(step, args=ocp.args.StandardRestore(abstract_target))
    except Exception as e:  # Orbax raises many types for unreadable or mismatched data.
      reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
      raise UserError(f'checkpoint {path} cannot be restored into this config ({reason}); it was '
                      'left untouched: use another --workdir or move the checkpoint away') from None
    return step, restored

  def _first_mismatch(self, step: int, abstract_target: Any, path: str) -> Optional[str]:
    """The first leaf the checkpoint lacks or holds with another shape, as a message; None if all fit."""
    try:
      metadata = ocp.CheckpointManager(self.directory, item_handlers=ocp.StandardCheckpointHandler()).item_metadata(step)
      stored = {_path_name(p): tuple(m.shape) for p, m in jax.tree_util.tree_flatten_with_path(metadata)[0]}
    except Exception as e:  # Unreadable metadata: a corrupt checkpoint.
      reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
      raise UserError(f'checkpoint {path} cannot be restored (unreadable: {reason}); it was left untouched: '
                      'use another --workdir or move the checkpoint away') from None
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


def _path_name(path: tuple) -> str:
  """'state/params/conv1/kernel' from a pytree key path of dicts, dataclasses, tuples or namedtuples."""
  return '/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k)))) for k in path)


def abstract_like(tree: Any) -> Any:
  """ShapeDtypeStructs with shardings, the restore target orbax needs for sharded arrays."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)
