"""Freezing: parameters matched by `config.freeze` get zero updates (and no backward pass), BatchNorm
layers matched by `config.freeze_batch_stats` (or frozen) keep their running statistics, and
`config.lr_multipliers` give parameter groups their own learning rates.

Parameter paths are '/'-joined module names plus the leaf, e.g. 'layer4_1/bn2/scale' or
'fc/kernel'; regexes are matched with re.search.
"""

import re
from typing import Any, Sequence

import flax.linen as nn
import jax
import optax

from vision_jax.errors import UserError

FROZEN = 'frozen'


def path_str(path: tuple) -> str:
  return '/'.join(str(getattr(k, 'key', k)) for k in path)


def param_labels(params: Any, freeze: str, lr_multipliers: Sequence[tuple[str, float]]) -> Any:
  """A pytree like params of labels: 'frozen', 'group<i>' (the first matching lr_multipliers regex) or 'default'."""
  def label(path, _):
    name = path_str(path)
    if freeze and re.search(freeze, name):
      return FROZEN
    for i, (pattern, _) in enumerate(lr_multipliers):
      if re.search(pattern, name):
        return f'group{i}'
    return 'default'
  return jax.tree_util.tree_map_with_path(label, params)


def validate_regexes(freeze: str, lr_multipliers: Sequence, freeze_batch_stats: str = '') -> None:
  for pattern in [freeze, freeze_batch_stats] + [entry[0] for entry in lr_multipliers]:
    try:
      re.compile(pattern)
    except re.error as e:
      raise UserError(f'bad regex {pattern!r} in config.freeze/freeze_batch_stats/lr_multipliers: {e}') from None


def partitioned_optimizer(make_tx, learning_rate_fn, freeze: str, lr_multipliers: Sequence) -> optax.GradientTransformation:
  """Frozen parameters get exactly zero updates; each lr group gets its own scaled schedule."""
  validate_regexes(freeze, lr_multipliers)
  transforms = {'default': make_tx(learning_rate_fn), FROZEN: optax.set_to_zero()}
  for i, (_, multiplier) in enumerate(lr_multipliers):
    transforms[f'group{i}'] = make_tx(lambda step, m=float(multiplier): m * learning_rate_fn(step))
  return optax.multi_transform(transforms, lambda params: param_labels(params, freeze, lr_multipliers))


def stop_frozen_gradients(params: Any, freeze: str) -> Any:
  """stop_gradient on frozen leaves, so XLA prunes the backward pass through a frozen backbone
  (a linear probe then costs about one forward pass). Their updates are zero either way."""
  if not freeze:
    return params
  return jax.tree_util.tree_map_with_path(
      lambda path, p: jax.lax.stop_gradient(p) if re.search(freeze, path_str(path)) else p, params)


def frozen_batch_norm(freeze: str, freeze_batch_stats: str = ''):
  """A Flax method interceptor: BatchNorm layers whose scale is frozen, or whose path matches
  `freeze_batch_stats`, normalise with their running statistics and do not update them.

  A frozen layer should; and fine-tuning with a few examples per batch needs it too, since
  statistics of batches of ten drift far from the pretrained ones the network was trained with.
  """
  def interceptor(next_fun, args, kwargs, context):
    module = context.module
    if isinstance(module, nn.BatchNorm) and context.method_name == '__call__':
      layer = '/'.join(module.path)
      if ((freeze and re.search(freeze, layer + '/scale'))
          or (freeze_batch_stats and re.search(freeze_batch_stats, layer))):
        kwargs = {**kwargs, 'use_running_average': True}
    return next_fun(*args, **kwargs)
  return interceptor
