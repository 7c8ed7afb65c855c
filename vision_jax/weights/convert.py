"""Framework-neutral conversion: a flat {name: numpy array} state into Flax variables.

A family supplies `key_of(module_path) -> prefix` that names each Flax module's
counterpart in the source file; layouts are changed by leaf kind (conv kernels
OIHW -> HWIO, dense kernels transposed, BatchNorm statistics as is). Every missing,
extra or mis-shaped key is an error that names it.
"""

import itertools
import os
from typing import Callable, Mapping, Optional, Union

import flax
import numpy as np

from vision_jax.errors import UserError

# Flax leaf name -> PyTorch parameter suffix.
TORCH_LEAF = {'kernel': 'weight', 'bias': 'bias', 'scale': 'weight', 'mean': 'running_mean',
              'var': 'running_var'}
IGNORED_SUFFIXES = ('num_batches_tracked',)


def torch_layout(leaf: str, array: np.ndarray) -> np.ndarray:
  """PyTorch -> Flax layout: conv OIHW -> HWIO (depthwise (C,1,k,k) -> (k,k,1,C)), dense (out,in) -> (in,out)."""
  if leaf == 'kernel' and array.ndim == 4:
    return np.transpose(array, (2, 3, 1, 0))
  if leaf == 'kernel' and array.ndim == 2:
    return array.T
  return array


def convert_state(state: Mapping[str, np.ndarray], template: dict, key_of: Callable[[tuple], str],
                  source: str, leaf_suffix: Mapping[str, str] = TORCH_LEAF,
                  layout: Callable[[str, np.ndarray], np.ndarray] = torch_layout,
                  skip_module: Union[None, str, tuple[str, ...]] = None) -> dict:
  """Fills every leaf of `template` ({'params': ..., 'batch_stats': ...}) from `state`.

  Leaves of the top-level module `skip_module` (a classifier head being replaced; a name or a
  tuple of names) are left out of the result when absent or mis-shaped in `state`, instead of
  being errors.
  """
  skipped = (skip_module,) if isinstance(skip_module, str) else tuple(skip_module or ())
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(template))
  converted, used, problems = {}, set(), []
  for path, target in flat.items():
    module_path, leaf = path[1:-1], path[-1]
    key = f'{key_of(module_path)}.{leaf_suffix[leaf]}'
    skippable = module_path[:1] != () and module_path[0] in skipped
    if key not in state:
      if not skippable:
        problems.append(f'missing {key} (for {"/".join(path)})')
      continue
    value = layout(leaf, np.asarray(state[key]))
    if value.shape != tuple(target.shape) and skippable:
      used.add(key)
      continue
    if value.shape != tuple(target.shape):
      used.add(key)  # reported here, once, not again as unexpected
      expected = source_shape(layout, leaf, tuple(target.shape))
      problems.append(f'{key} has shape {tuple(np.shape(state[key]))}, the model needs {expected}')
      continue
    converted[path] = value.astype(np.float32)
    used.add(key)
  extra = sorted(k for k in state if k not in used and not k.endswith(IGNORED_SUFFIXES))
  problems += [f'unexpected {k}' for k in extra]
  if problems:
    shown = '; '.join(problems[:5]) + (f'; and {len(problems) - 5} more' if len(problems) > 5 else '')
    raise UserError(f'{source} does not match the model: {shown}')
  return flax.traverse_util.unflatten_dict(converted)


def source_shape(layout: Callable[[str, np.ndarray], np.ndarray], leaf: str, target: tuple[int, ...]) -> tuple:
  """The shape in the file's own layout that `layout` turns into the model's `target` shape (layouts
  permute axes, so one of the target's permutations)."""
  for order in itertools.permutations(range(len(target))):
    shape = tuple(target[i] for i in order)
    if layout(leaf, np.broadcast_to(np.float32(0), shape)).shape == target:
      return shape
  return target


def load_torch_state_dict(path: str) -> dict[str, np.ndarray]:
  """A PyTorch state_dict as numpy arrays, loaded with weights_only=True: no pickled code runs."""
  if not os.path.isfile(path):
    raise UserError(f'weights file {path} does not exist')
  try:
    import torch  # deferred: PyTorch is optional (the pretrained extra)
  except ImportError:
    raise UserError('reading PyTorch weights needs torch: pip install -e ".[pretrained]"') from None
  try:
    state = torch.load(path, map_location='cpu', weights_only=True)
  except Exception as e:  # torch raises UnpicklingError, RuntimeError (zip), EOFError, ... for bad files
    raise UserError(f'{path} {unreadable_torch_file_reason(e)}') from None
  if isinstance(state, dict) and 'state_dict' in state:
    state = state['state_dict']
  if not isinstance(state, dict):
    raise UserError(f'{path} holds a {type(state).__name__}, not a PyTorch state_dict (a dict of name -> tensor)')
  others = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
  if others:
    raise UserError(f'{path} is not a PyTorch state_dict: {", ".join(map(str, others[:5]))} are not tensors '
                    '(a training checkpoint? pass the dict of name -> tensor inside it)')
  return {k: v.detach().cpu().numpy() for k, v in state.items()}


def unreadable_torch_file_reason(error: Exception) -> str:
  """Why torch.load(weights_only=True) refused a file, in our words instead of PyTorch's page of
  advice: pickled objects (a whole model) or bytes that are no PyTorch file at all."""
  text = str(error)
  if 'can still be loaded' in text:  # a valid pickle naming classes beyond tensors
    return ('holds pickled Python objects (a whole model?), which we do not unpickle: save its '
            'state_dict with torch.save(model.state_dict(), PATH) and pass that file')
  detail = next((line.strip() for line in reversed(text.splitlines()) if line.strip()
                 and 'documentation' not in line), type(error).__name__)
  return f'is not a readable PyTorch state_dict ({detail[:120]})'


TORCH_SUFFIXES = ('.pt', '.pth', '.bin')


def whole_detector_from_file(init_from: str, template: dict, recognise: Callable[[dict], bool],
                             convert: Callable[[dict, dict, str], dict]) -> Optional[dict]:
  """Variables converted from a PyTorch state_dict file holding a whole detector of the family that
  `recognise` knows, or None when init_from is not such a file (then it names backbone weights)."""
  if not (os.path.isfile(init_from) and init_from.endswith(TORCH_SUFFIXES)):
    return None
  state = load_torch_state_dict(init_from)
  return convert(state, template, init_from) if recognise(state) else None
