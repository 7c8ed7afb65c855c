"""Config rules checked before any work is paid for (data, state, compilation): a value that
cannot mean anything stops the launch with one line naming the key and what it must be.

Each rule applies when its key exists, so one table serves every task. Add the rules of a new
config key here, each with a case in tests/test_config_rules.py.
"""

import os
from typing import Any, Callable, NamedTuple, Optional

from vision_jax.data import BUNDLED, DETECTION_BUNDLED
from vision_jax.data.batching import normalisation_problem
from vision_jax.errors import UserError
from vision_jax.weights.pretrained import NAMED


class Rule(NamedTuple):
  key: str                       # dotted path in the config
  holds: Callable[[Any], bool]   # True for an acceptable value
  must: str                      # what the value must be, as the error line says it


def _all_positive(values) -> bool:
  return all(v > 0 for v in (values if isinstance(values, (list, tuple)) else (values,)))


def _weights_exist(init_from: str) -> bool:
  """'' (none), a registered name, or a file or folder on disk; checked here because the loaders
  meet a missing file only after the data and the model are built."""
  return not init_from or init_from in NAMED or os.path.exists(init_from)


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
    Rule('restore', lambda v: v in ('latest', 'latest_valid'), "must be 'latest' or 'latest_valid'"),
    Rule('schedule.base_lr', lambda v: v >= 0, 'must be >= 0'),
    Rule('schedule.warmup_steps', lambda v: v >= 0, 'must be >= 0'),
    Rule('schedule.decay_start', lambda v: v >= 0, 'must be >= 0 (a fraction of num_train_steps, or a step)'),
    Rule('cyclegan.cycle_weight', lambda v: v >= 0, 'must be >= 0'),
    Rule('cyclegan.identity_weight', lambda v: v >= 0, 'must be >= 0 (0: no identity loss)'),
    Rule('cyclegan.pool_size', lambda v: v >= 0, 'must be >= 0 (0: no history pool)'),
    Rule('label_smoothing', lambda v: 0 <= v <= 1, 'must be in [0, 1]'),
    Rule('dataset.channels', lambda v: v >= 1, 'must be >= 1'),
    Rule('dataset.image_size', lambda v: v >= 0, 'must be >= 0 (0: the native size)'),
    Rule('dataset.std', _all_positive, 'must be > 0 (pixels are divided by it)'),
    Rule('distributed.initialization_timeout_s', lambda v: v >= 1, 'must be >= 1'),
    Rule('distributed.heartbeat_timeout_s', lambda v: v >= 1, 'must be >= 1'),
    Rule('nms.iou_threshold', lambda v: 0 < v <= 1, 'must be in (0, 1] (boxes overlapping a kept one by more are '
                                                     'suppressed)'),
    Rule('nms.score_threshold', lambda v: 0 <= v < 1, 'must be in [0, 1)'),
    Rule('nms.pre_nms_top_k', lambda v: v >= 1, 'must be >= 1'),
    Rule('nms.max_detections', lambda v: v >= 1, 'must be >= 1'),
    Rule('model.reg_max', lambda v: v >= 2, 'must be >= 2 (DFL bins per box side)'),
    Rule('init_from', _weights_exist, f'is neither a file, a folder, nor one of: {", ".join(sorted(NAMED))}'),
)


def _bundled_normalisation(config) -> Optional[str]:
  """Bundled data has dataset.channels channels; TFDS sources check against their own images."""
  dataset = config.get('dataset', {})
  if dataset.get('name') not in {**BUNDLED, **DETECTION_BUNDLED} or 'channels' not in dataset:
    return None
  return normalisation_problem(dataset.get('mean', 0.5), dataset.get('std', 0.5), dataset.channels)


def _bundled_splits(config) -> Optional[str]:
  """Bundled data has fixed train/test splits, so a TFDS split name would be silently ignored."""
  dataset = config.get('dataset', {})
  if dataset.get('name') not in {**BUNDLED, **DETECTION_BUNDLED}:
    return None
  for key, fixed in (('train_split', 'train'), ('eval_split', 'test')):
    if dataset.get(key, fixed) != fixed:
      return (f'config.dataset.{key} = {dataset[key]!r} has no effect on the bundled dataset '
              f'{dataset.name!r}, whose {key} is always {fixed!r}')
  return None


# Keys a bundled dataset ignores, with the one value that says so: anything else would be silently
# without effect (the array sources have no augmentation; the digit scenes are always 128x128).
BUNDLED_IGNORES = {**{name: {'augment': 'none'} for name in BUNDLED},
                   'digit_scenes': {'image_size': 0}}


def _bundled_ignored_keys(config) -> Optional[str]:
  dataset = config.get('dataset', {})
  for key, neutral in BUNDLED_IGNORES.get(dataset.get('name'), {}).items():
    if dataset.get(key, neutral) != neutral:
      return (f'config.dataset.{key} = {dataset[key]!r} has no effect on the bundled dataset {dataset.name!r} '
              f'(leave it {neutral!r})')
  return None


def _warmup_within_training(config) -> Optional[str]:
  """A warm-up longer than training never reaches the base learning rate (nor its schedule)."""
  warmup, steps = lookup(config, 'schedule.warmup_steps'), config.get('num_train_steps', 0)
  if warmup is _MISSING or not steps or warmup <= steps:
    return None
  return (f'config.schedule.warmup_steps = {warmup} is longer than training (num_train_steps = {steps}): '
          'the learning rate would never reach schedule.base_lr')


# Checks across keys: config -> a message, or None when the config is fine.
CHECKS: tuple[Callable[[Any], Optional[str]], ...] = (_bundled_normalisation, _bundled_splits,
                                                      _bundled_ignored_keys, _warmup_within_training)

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
  """UserError naming the first rule or check the config breaks."""
  for rule in RULES:
    value = lookup(config, rule.key)
    if value is not _MISSING and value is not None and not rule.holds(value):
      raise UserError(f'config.{rule.key} = {value!r} {rule.must}')
  for check in CHECKS:
    problem = check(config)
    if problem:
      raise UserError(problem)
