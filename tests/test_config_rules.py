"""Config rules (vision_jax/config_rules.py): each refuses its nonsense value with one line naming the
key, before any work; every shipped config passes them all."""

import glob
import os
import re

import pytest

from tests.helpers import ROOT, load_config
import ml_collections

from vision_jax.config_rules import NAMED_RULES, RANGES, validate
from vision_jax.errors import UserError


@pytest.mark.parametrize('key, value, message', [
    ('num_train_steps', -1, 'config.num_train_steps = -1 must be >= 0'),
    ('batch_size', 0, 'config.batch_size = 0 must be > 0'),
    ('eval_batch_size', 0, 'config.eval_batch_size = 0 must be > 0'),
    ('accum_steps', 0, 'config.accum_steps = 0 must be >= 1'),
    ('log_every_steps', -5, 'config.log_every_steps = -5 must be >= 0'),
    ('eval_every_steps', -1, 'config.eval_every_steps = -1 must be >= 0'),
    ('checkpoint_every_steps', -1, 'config.checkpoint_every_steps = -1 must be >= 0'),
    ('keep_checkpoints', 0, 'config.keep_checkpoints = 0 must be >= 1'),
    ('restore', 'newest', "config.restore = 'newest' must be 'latest' or 'latest_valid'"),
    ('schedule.base_lr', -0.1, 'config.schedule.base_lr = -0.1 must be >= 0'),
    ('schedule.warmup_steps', -1, 'config.schedule.warmup_steps = -1 must be >= 0'),
    ('schedule.decay_start', -0.5, 'config.schedule.decay_start = -0.5 must be >= 0 (a fraction'),
    ('cyclegan.cycle_weight', -10.0, 'config.cyclegan.cycle_weight = -10.0 must be >= 0'),
    ('cyclegan.identity_weight', -0.5, 'config.cyclegan.identity_weight = -0.5 must be >= 0 (0: no identity loss)'),
    ('cyclegan.pool_size', -1, 'config.cyclegan.pool_size = -1 must be >= 0 (0: no history pool)'),
    ('label_smoothing', 1.5, 'config.label_smoothing = 1.5 must be in [0, 1]'),
    ('dataset.channels', 0, 'config.dataset.channels = 0 must be >= 1'),
    ('dataset.image_size', -32, 'config.dataset.image_size = -32 must be in [0, 8192] (0: the native size)'),
    ('dataset.std', (0.5, 0.0, 0.5), 'config.dataset.std = (0.5, 0.0, 0.5) must be > 0'),
    ('dataset.mean', ('abc',), "config.dataset.mean = ('abc',) must be a number, or one per channel"),
    ('preprocess.mean', ('abc',), "config.preprocess.mean = ('abc',) must be a number, or one per channel"),
    ('preprocess.std', (0.0,), 'config.preprocess.std = (0.0,) must be > 0'),
    ('distributed.initialization_timeout_s', 0, 'config.distributed.initialization_timeout_s = 0 must be >= 1'),
    ('distributed.heartbeat_timeout_s', -1, 'config.distributed.heartbeat_timeout_s = -1 must be >= 1'),
    ('nms.iou_threshold', -1.0, 'config.nms.iou_threshold = -1.0 must be in (0, 1]'),
    ('nms.score_threshold', 1.5, 'config.nms.score_threshold = 1.5 must be in [0, 1)'),
    ('nms.pre_nms_top_k', 0, 'config.nms.pre_nms_top_k = 0 must be >= 1'),
    ('nms.max_detections', 0, 'config.nms.max_detections = 0 must be >= 1'),
    ('schedule.boundaries', ('abc',), "config.schedule.boundaries = ('abc',) must be steps or fractions of"),
    ('lr_multipliers', ('abc',), "config.lr_multipliers = ('abc',) must be (REGEX, multiplier >= 0) pairs"),
    ('model.reg_max', 0, 'config.model.reg_max = 0 must be >= 2 (DFL bins per box side)'),
    ('init_from', '/no/such/weights.pth', "config.init_from = '/no/such/weights.pth' is neither a file, a folder, "
                                          'nor one of: efficientnet_lite0_imagenet'),
])
def test_each_rule_refuses_its_nonsense_value(key, value, message):
  config = load_config({'cyclegan': 'digits_cyclegan', 'nms': 'digit_scenes_faster_rcnn', 'model': 'digit_scenes_yolo',
                       'preprocess': 'imagenet_predict'}.get(
      key.split('.')[0], 'digits_cnn'), 'smoke')
  parent, _, leaf = key.rpartition('.')
  (config[parent] if parent else config)[leaf] = value
  with pytest.raises(UserError, match=re.escape(message)):
    validate(config)


@pytest.mark.parametrize('config_name, overrides, message', [
    ('digits_cnn', {'mean': (0.5, 0.5, 0.5)}, 'config.dataset.mean has 3 values for 1-channel images'),
    ('digits_cnn', {'channels': 3, 'std': (0.5, 0.5)}, 'config.dataset.std has 2 values for 3-channel images'),
    ('digits_cnn', {'eval_split': 'validation'}, "config.dataset.eval_split = 'validation' has no effect on the "
                                                 "bundled dataset 'digits', whose eval_split is always 'test'"),
    ('digit_scenes_ssd', {'train_split': 'train+test'}, "config.dataset.train_split = 'train+test' has no effect"),
    ('digits_cnn', {'augment': 'flip'}, "config.dataset.augment = 'flip' has no effect on the bundled dataset 'digits' "
                                        "(leave it 'none')"),
    ('digit_scenes_faster_rcnn', {'image_size': 30}, "config.dataset.image_size = 30 has no effect on the bundled "
                                                     "dataset 'digit_scenes' (leave it 0)"),
])
def test_each_check_across_keys_refuses_its_case(config_name, overrides, message):
  # issue #15 items 3 and 5: a mean/std of the wrong length, or a split the bundled data ignores.
  config = load_config(config_name, 'smoke')
  config.dataset.update(overrides)
  with pytest.raises(UserError, match=re.escape(message)):
    validate(config)


def test_every_named_rule_has_a_case_above():
  cases = test_each_rule_refuses_its_nonsense_value.pytestmark[0].args[1]
  assert {key for key, _, _ in cases} == {rule.key for rule in NAMED_RULES}


def config_with(key: str, value) -> ml_collections.ConfigDict:
  """A config holding only the dotted `key`."""
  *parents, leaf = key.split('.')
  tree = {leaf: value}
  for parent in reversed(parents):
    tree = {parent: tree}
  return ml_collections.ConfigDict(tree)


@pytest.mark.parametrize('holds, must, outside, keys', RANGES, ids=[must for _, must, _, _ in RANGES])
def test_each_key_of_a_shared_range_refuses_a_value_outside_it(holds, must, outside, keys):
  # issue #28: found by tests/test_config_fuzz.py (a NaN positive fraction crashed Faster R-CNN's sampler).
  for key in keys:
    with pytest.raises(UserError, match=re.escape(f'config.{key} = {outside!r} {must}')):
      validate(config_with(key, outside))
    validate(config_with(key, 1 if holds(1) else 0.5))


@pytest.mark.parametrize('key, value, message', [
    ('dataset.brightness', float('nan'), 'config.dataset.brightness = nan is not a number'),
    ('model.anchor_sizes', [[12.0, float('nan')]], 'config.model.anchor_sizes = [[12.0, nan]] is not a number'),
    ('dataset.std', ('abc',), "config.dataset.std = ('abc',) must be > 0"),
])
def test_nan_and_words_where_numbers_belong_are_refused(key, value, message):
  # issue #28 (fuzzing): NaN passed every range (each comparison is False); a word in a tuple-typed key
  # (the flag parser accepts any literal there) raised TypeError inside the rule.
  with pytest.raises(UserError, match=re.escape(message)):
    validate(config_with(key, value))


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(ROOT, 'configs', '*.py'))))
def test_shipped_configs_pass_the_rules(path):
  name = os.path.basename(path)[:-3]
  if name in ('common', '__init__'):
    return
  validate(load_config(name, None))


def test_a_warmup_longer_than_training_is_refused():
  config = load_config('digits_cnn', 'smoke')
  config.schedule.warmup_steps = 5
  with pytest.raises(UserError, match=re.escape('config.schedule.warmup_steps = 5 is longer than training '
                                                '(num_train_steps = 4): the learning rate would never reach')):
    validate(config)
  config.schedule.warmup_steps = 4
  validate(config)
