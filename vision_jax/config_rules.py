"""Config rules checked before any work is paid for (data, state, compilation): a value that
cannot mean anything stops the launch with one line naming the key and what it must be.

Each rule applies when its key exists, so one table serves every task. Add the rules of a new
config key here, each with a case in tests/test_config_rules.py.
"""

import math
import os
from typing import Any, Callable, Iterable, NamedTuple, Optional

from vision_jax.data import BUNDLED, DETECTION_BUNDLED, SOURCE_KEYS, source_kind
from vision_jax.data.batching import normalisation_problem
from vision_jax.errors import UserError
from vision_jax.train.optimizers import OPTIMIZER_KEYS, SCHEDULE_KEYS
from vision_jax.weights.pretrained import NAMED


class Rule(NamedTuple):
  key: str                       # dotted path in the config
  holds: Callable[[Any], bool]   # True for an acceptable value
  must: str                      # what the value must be, as the error line says it


def _all_positive(values) -> bool:
  return all(v > 0 for v in (values if isinstance(values, (list, tuple)) else (values,)))


def _all_numbers(values) -> bool:
  return all(isinstance(v, (int, float)) and not isinstance(v, bool)
             for v in (values if isinstance(values, (list, tuple)) else (values,)))


def _multiplier_pairs(entries) -> bool:
  """config.lr_multipliers: (regex, learning-rate multiplier >= 0) pairs."""
  return all(isinstance(e, (list, tuple)) and len(e) == 2 and isinstance(e[0], str) and _all_numbers(e[1])
             and e[1] >= 0 for e in entries)


def _fraction(value) -> bool:
  return 0 < value <= 1


def _weights_exist(init_from: str) -> bool:
  """'' (none), a registered name, or a file or folder on disk; checked here because the loaders
  meet a missing file only after the data and the model are built."""
  return not init_from or init_from in NAMED or os.path.exists(init_from)


# The largest image side a config may ask for: one 8192 x 8192 RGB float32 image is 0.8 GB, and a resize
# to an absurd side (a typo's 10**9) aborts XLA's compiler instead of raising.
MAX_SIDE = 8192

NAMED_RULES = (
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
    Rule('schedule.boundaries', lambda v: _all_numbers(v) and min(v, default=0) >= 0,
         'must be steps or fractions of num_train_steps (numbers >= 0)'),
    Rule('schedule.decay_start', lambda v: v >= 0, 'must be >= 0 (a fraction of num_train_steps, or a step)'),
    Rule('cyclegan.cycle_weight', lambda v: v >= 0, 'must be >= 0'),
    Rule('cyclegan.identity_weight', lambda v: v >= 0, 'must be >= 0 (0: no identity loss)'),
    Rule('cyclegan.pool_size', lambda v: v >= 0, 'must be >= 0 (0: no history pool)'),
    Rule('label_smoothing', lambda v: 0 <= v <= 1, 'must be in [0, 1]'),
    Rule('dataset.channels', lambda v: v >= 1, 'must be >= 1'),
    Rule('dataset.image_size', lambda v: 0 <= v <= MAX_SIDE, f'must be in [0, {MAX_SIDE}] (0: the native size)'),
    Rule('dataset.std', _all_positive, 'must be > 0 (pixels are divided by it)'),
    Rule('dataset.mean', _all_numbers, 'must be a number, or one per channel'),
    Rule('preprocess.mean', _all_numbers, 'must be a number, or one per channel'),
    Rule('preprocess.std', _all_positive, 'must be > 0 (pixels are divided by it)'),
    Rule('distributed.initialization_timeout_s', lambda v: v >= 1, 'must be >= 1'),
    Rule('distributed.heartbeat_timeout_s', lambda v: v >= 1, 'must be >= 1'),
    Rule('nms.iou_threshold', lambda v: 0 < v <= 1, 'must be in (0, 1] (boxes overlapping a kept one by more are '
                                                     'suppressed)'),
    Rule('nms.score_threshold', lambda v: 0 <= v < 1, 'must be in [0, 1)'),
    Rule('nms.pre_nms_top_k', lambda v: v >= 1, 'must be >= 1'),
    Rule('nms.max_detections', lambda v: v >= 1, 'must be >= 1'),
    Rule('lr_multipliers', _multiplier_pairs, "must be (REGEX, multiplier >= 0) pairs, e.g. (('^backbone/', 0.1),)"),
    Rule('model.reg_max', lambda v: v >= 2, 'must be >= 2 (DFL bins per box side)'),
    Rule('init_from', _weights_exist, f'is neither a file, a folder, nor one of: {", ".join(sorted(NAMED))}'),
)

# Keys that share a range: (holds, what the value must be, a value outside it (for the tests), keys).
RANGES = (
    (_fraction, 'must be in (0, 1]', 0.0, (
        'dataset.crop_fraction', 'preprocess.crop_fraction', 'model.box_positive_fraction',
        'model.rpn_positive_fraction', 'matching.iou_threshold', 'matching.positive_iou',
        'model.box_foreground_iou', 'model.rpn_nms_threshold', 'schedule.decay_factor')),
    (lambda v: 0 <= v < 1, 'must be in [0, 1)', 1.0, (
        'model.dropout', 'model.dropout_rate', 'model.drop_path_rate', 'model.bn_momentum', 'gan.ema_decay',
        'optimizer.b1', 'optimizer.b2', 'optimizer.momentum', 'dataset.translate', 'dataset.scale',
        'dataset.value_gain')),
    (lambda v: 0 <= v <= 1, 'must be in [0, 1]', 1.5, (
        'matching.negative_iou', 'losses.focal_alpha', 'dataset.mosaic', 'dataset.background_level',
        'schedule.final_lr_fraction', 'predict_score_threshold', 'evals.pictures.score_threshold')),
    (lambda v: v >= 0, 'must be >= 0', -1, (
        'losses.alpha', 'losses.box', 'losses.cls', 'losses.coord', 'losses.dfl', 'losses.focal_gamma',
        'losses.noobj', 'inpaint.adversarial_weight', 'inpaint.l2_weight', 'pix2pix.adversarial_weight',
        'pix2pix.l1_weight', 'neural_style.content_weight', 'neural_style.style_weight', 'neural_style.tv_weight',
        'gan.gp_weight', 'gan.r1_gamma', 'gan.d_lr', 'optimizer.weight_decay', 'optimizer.grad_clip_norm',
        'dataset.brightness', 'dataset.gamma', 'dataset.max_shift', 'dataset.crop_padding', 'model.head_convs',
        'fast_style.num_blocks', 'pix2pix.dropout_blocks', 'cyclegan.g_blocks', 'evals.pictures.num_images')),
    (lambda v: v > 0, 'must be > 0', 0, (
        'optimizer.eps', 'losses.beta', 'losses.box_beta', 'losses.rpn_beta', 'matching.neg_pos_ratio',
        'model.roi_canonical_scale')),
    (lambda v: v >= 1, 'must be >= 1', 0, (
        'dataset.max_boxes', 'dataset.shuffle_buffer', 'dataset.num_test_scenes',
        'model.grid_size', 'model.boxes_per_cell', 'model.fpn_features', 'model.representation',
        'model.rpn_pre_nms_top_n_train', 'model.rpn_pre_nms_top_n_test', 'model.rpn_post_nms_top_n_train',
        'model.rpn_post_nms_top_n_test', 'model.box_batch_size_per_image', 'model.rpn_batch_size_per_image',
        'gan.latent_dim', 'gan.d_steps', 'gan.num_eval_samples', 'losses.topk',
        'export_batch_size', 'top_k', 'inpaint.hole', 'inpaint.bottleneck', 'inpaint.grid_images',
        'fast_style.width', 'fast_style.grid_images', 'cyclegan.g_width', 'cyclegan.d_width', 'cyclegan.d_layers',
        'cyclegan.grid_images', 'pix2pix.d_width', 'pix2pix.d_layers', 'pix2pix.grid_images')),
    (lambda v: 0 <= v <= 8, 'must be in [0, 8] (a multiplier of the model size; YOLOv8: 0 keeps its own)', 9, (
        'model.width', 'model.depth')),
    (lambda v: 1 <= v <= MAX_SIDE, f'must be in [1, {MAX_SIDE}] (pixels)', 0, (
        'dataset.load_size', 'dataset.min_size', 'dataset.max_size', 'preprocess.image_size', 'evals.fid.image_size')),
)
RULES = NAMED_RULES + tuple(Rule(key, holds, must) for holds, must, _, keys in RANGES for key in keys)


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


def _source_reads(config) -> tuple[str, tuple[str, ...]]:
  """(the chosen data source as a message names it, the dataset keys it reads)."""
  dataset = config.dataset
  kind = source_kind(dataset, config.get('task') == 'detection')
  return (f'TFDS dataset {dataset.name!r}' if kind.startswith('tfds') else f'{kind!r} source',
          ('name', *SOURCE_KEYS[kind]))


def _chosen_by_name(block: str, keys_by_name: dict):
  """The reads of config.<block> for the chosen config.<block>.name (None for an unknown name: its
  builder says which names exist)."""
  def reads(config) -> Optional[tuple[str, tuple[str, ...]]]:
    name = config[block].get('name')
    return (f'{block} {name!r}', ('name', *keys_by_name[name])) if name in keys_by_name else None
  return reads


# Config blocks whose keys only some choices read: block -> config -> (what was chosen, keys it reads).
OVERRIDE_SCOPES = {'dataset': _source_reads, 'optimizer': _chosen_by_name('optimizer', OPTIMIZER_KEYS),
                   'schedule': _chosen_by_name('schedule', SCHEDULE_KEYS)}


def override_problem(config, overridden: Iterable[str]) -> Optional[str]:
  """A message for the first command-line override (a dotted key) of a dataset, optimizer or schedule
  key that the chosen source, optimizer or schedule never reads (its value would be silently without
  effect), or None."""
  for key in overridden:
    block, _, rest = key.partition('.')
    if block not in OVERRIDE_SCOPES or block not in config or 'name' not in config[block]:
      continue
    chosen = OVERRIDE_SCOPES[block](config)
    if chosen and rest.split('.')[0] not in chosen[1]:
      return (f'config.{key} has no effect on the {chosen[0]}, which reads only {block}.'
              f'{{{", ".join(sorted(chosen[1]))}}}')
  return None


def _warmup_within_training(config) -> Optional[str]:
  """A warm-up longer than training never reaches the base learning rate (nor its schedule)."""
  warmup, steps = lookup(config, 'schedule.warmup_steps'), config.get('num_train_steps', 0)
  if warmup is _MISSING or not steps or warmup <= steps:
    return None
  return (f'config.schedule.warmup_steps = {warmup} is longer than training (num_train_steps = {steps}): '
          'the learning rate would never reach schedule.base_lr')


def _no_nan(config, prefix: str = 'config') -> Optional[str]:
  """NaN means nothing for any key (a range check would let it through: every comparison is False)."""
  for key, value in config.items():
    if hasattr(value, 'items'):
      problem = _no_nan(value, f'{prefix}.{key}')
      if problem:
        return problem
    elif any(isinstance(v, float) and math.isnan(v) for v in _flat(value)):
      return f'{prefix}.{key} = {value!r} is not a number'
  return None


def _flat(value) -> list:
  """The scalars of a value, lists and tuples flattened."""
  if isinstance(value, (list, tuple)):
    return [x for v in value for x in _flat(v)]
  return [value]


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


def _holds(rule: Rule, value) -> bool:
  """rule.holds(value), False for a value of a type the rule cannot compare (a word where a number
  belongs: a tuple-typed key's override is not type-checked by the flag parser)."""
  try:
    return bool(rule.holds(value))
  except (TypeError, ValueError):
    return False


def validate(config) -> None:
  """UserError naming the first rule or check the config breaks (NaN first: it breaks every range)."""
  nan = _no_nan(config)
  if nan:
    raise UserError(nan)
  for rule in RULES:
    value = lookup(config, rule.key)
    if value is not _MISSING and value is not None and not _holds(rule, value):
      raise UserError(f'config.{rule.key} = {value!r} {rule.must}')
  for check in CHECKS:
    problem = check(config)
    if problem:
      raise UserError(problem)
