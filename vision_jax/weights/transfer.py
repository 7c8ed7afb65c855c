"""Transfer learning: pretrained variables (`config.init_from`) merged into a fresh model, a head whose
class count differs re-initialised. Freezing lives in train/freezing.py, reading our own
checkpoints in train/checkpoint.py."""

import flax
import numpy as np

from vision_jax.errors import UserError


def merge_pretrained(fresh: dict, loaded: dict, head: str, source: str) -> tuple[dict, list[str]]:
  """Takes every leaf from `loaded`; leaves of the `head` module whose shape differs stay freshly
  initialised (a new class count). Any other absent or mis-shaped leaf is an error naming it."""
  fresh_flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(fresh))
  loaded_flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(loaded))
  merged, reinitialised, problems = {}, [], []
  for path, value in fresh_flat.items():
    name = '/'.join(path[1:])
    other = loaded_flat.get(path)
    if other is not None and tuple(np.shape(other)) == tuple(value.shape):
      merged[path] = np.asarray(other, np.float32)
    elif path[1] == head:
      merged[path] = value
      reinitialised.append(name)
    elif other is None:
      problems.append(f'{name} is missing')
    else:
      problems.append(f'{name} has shape {tuple(np.shape(other))}, the model needs {tuple(value.shape)}')
  if problems:
    raise UserError(f'init_from {source} does not fit the model: ' + '; '.join(problems[:5]))
  return flax.traverse_util.unflatten_dict(merged), reinitialised
