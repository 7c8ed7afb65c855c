"""Config rules checked before any work is paid for (data, state, compilation): a value that
cannot mean anything stops the launch with one line naming the key and what it must be.

Each rule applies when its key exists, so one table serves every task. Add the rules of a new
config key here, each with a case in tests/test_config_rules.py.
"""

from typing import Any, Callable, NamedTuple

from vision_jax.errors import UserError


class Rule(NamedTuple):
  key: str                       # dotted path in the config
  holds: Callable[[Any], bool]   # True for an acceptable value
  must: str                      # what the value must be, as the error line says it


def _all_positive(values) -> bool:
  return all(v > 0 for v in (values if isinstance(values, (list, tuple)) else (values,)))


RULES = (
    Rule('num_train_steps', lambda v: v >= 0, 'must be >= 0'),
    Rule('batch_size', lambda v: v > 0, 'must be > 0'),
    Rule('eval_batch_size', lambda v: v > 0, 'must be > 0'),
    Rule('accum_steps', lambda v: v >= 1, 'must be >= 1'),
    Rule('log_every_steps', lambda v: v >= 0, 'must be >= 0 (0: only the last step)'),
    Rule('eval_every_steps', lambda v: v >= 0, 'must be >= 0 (0: only the last step)'),
    Rule('checkpoint_every_steps', lambda v: v >= 0, 'must be >= 0 (0: only the last step)'),
    Rule('keep_checkpoints', lambda v: v >= 1, 'must be >= 1 (0 would delete every checkpoint, so the run '
                                               'could never resume)'),
    Rule('schedule.base_lr', lambda v: v >= 0, 'must be >= 0'),
    Rule('schedule.warmup_steps', lambda v: v >= 0, 'must be >= 0'),
    Rule('label_smoothing', lambda v: 0 <= v <= 1, 'must be in [0, 1]'),
    Rule('dataset.channels', lambda v: v >= 1, 'must be >= 1'),
    Rule('dataset.image_size', lambda v: v >= 0, 'must be >= 0 (0: the native size)'),
    Rule('dataset.std', _all_positive, 'must be > 0 (pixels are divided by it)'),
)

_MISSING = object()


def lookup(config, key: str):
  """config's value at the dotted `key`, or _MISSING."""
  node = config
  for part in key.split('.'):
    if not hasattr(node, 'get') or part not in node:
      return _MISSING
    node = node[part]
  return node


def validate(config) -> None:
  """UserError naming the first rule the config breaks."""
  for rule in RULES:
    value = lookup(config, rule.key)
    if value is not _MISSING and value is not None and not rule.holds(value):
      raise UserError(f'config.{rule.key} = {value!r} {rule.must}')
