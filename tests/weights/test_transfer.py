"""Transfer learning: freezing, frozen BatchNorm, per-group learning rates, head re-initialisation."""

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import optax
import pytest

from configs import common
from tests.helpers import load_config
from vision_jax import models
from vision_jax.errors import UserError
from vision_jax.tasks import classification as cls
from vision_jax.train.state import create_train_state
from vision_jax.tasks import run
from vision_jax.train.optimizers import create_optimizer
from vision_jax.train import freezing
from vision_jax.weights import transfer


def resnet_and_state(freeze='', lr_multipliers=(), lr=0.1):
  model = models.build_model(ml_collections.ConfigDict({'name': 'cifar_resnet20'}), 10)
  opt = common.classification_config().optimizer
  opt.momentum = 0.0
  tx = freezing.partitioned_optimizer(lambda fn: create_optimizer(opt, fn), optax.constant_schedule(lr),
                                      freeze, lr_multipliers)
  return model, create_train_state(jax.random.PRNGKey(0), model, tx, (32, 32, 3))


def batch(n=8):
  rng = np.random.default_rng(0)
  return {'image': rng.normal(size=(n, 32, 32, 3)).astype(np.float32),
          'label': rng.integers(0, 10, n).astype(np.int32)}


def leaves_by_path(tree):
  return {freezing.path_str(p): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def test_labels_follow_freeze_then_lr_groups():
  params = {'layer1_0': {'conv1': {'kernel': 0}}, 'fc': {'kernel': 0, 'bias': 0}}
  labels = freezing.param_labels(params, '^layer1', (('bias$', 2.0),))
  assert labels == {'layer1_0': {'conv1': {'kernel': 'frozen'}}, 'fc': {'kernel': 'default', 'bias': 'group0'}}


def test_frozen_parameters_and_batch_norm_do_not_move():
  freeze = '^(?!fc/)'  # linear probe
  model, state = resnet_and_state(freeze)
  step = jax.jit(cls.make_train_step(model, optax.constant_schedule(0.1), freeze=freeze))
  new_state, _ = step(state, batch(), jax.random.PRNGKey(0))
  before, after = leaves_by_path(state.params), leaves_by_path(new_state.params)
  for name in before:
    if name.startswith('fc/'):
      assert not np.allclose(before[name], after[name]), name
    else:
      np.testing.assert_array_equal(before[name], after[name], err_msg=name)
  for a, b in zip(jax.tree.leaves(state.batch_stats), jax.tree.leaves(new_state.batch_stats)):
    np.testing.assert_array_equal(a, b)


def test_frozen_batch_norm_normalises_with_running_statistics():
  model, state = resnet_and_state()
  x = batch()['image']
  eval_logits, _ = model.apply(state.variables(), x, train=False)
  with nn.intercept_methods(freezing.frozen_batch_norm('bn')):
    train_logits, _ = model.apply(state.variables(), x, train=True, mutable=['batch_stats'])[0]
  np.testing.assert_allclose(train_logits, eval_logits, rtol=1e-5, atol=1e-6)


def test_fine_tune_can_keep_pretrained_batch_statistics():
  model, state = resnet_and_state()
  step = jax.jit(cls.make_train_step(model, optax.constant_schedule(0.1), freeze_batch_stats='.'))
  new_state, _ = step(state, batch(), jax.random.PRNGKey(0))
  for a, b in zip(jax.tree.leaves(state.batch_stats), jax.tree.leaves(new_state.batch_stats)):
    np.testing.assert_array_equal(a, b)
  before, after = leaves_by_path(state.params), leaves_by_path(new_state.params)
  assert not np.allclose(before['bn1/scale'], after['bn1/scale'])


def test_lr_multiplier_scales_that_group():
  model, plain = resnet_and_state()
  _, scaled = resnet_and_state(lr_multipliers=(('^fc/', 10.0),))
  step = cls.make_train_step(model, optax.constant_schedule(0.1))
  (a, _), (b, _) = [jax.jit(step)(s, batch(), jax.random.PRNGKey(0)) for s in (plain, scaled)]
  start, pa, pb = leaves_by_path(plain.params), leaves_by_path(a.params), leaves_by_path(b.params)
  np.testing.assert_allclose(pb['fc/kernel'] - start['fc/kernel'], 10 * (pa['fc/kernel'] - start['fc/kernel']),
                             rtol=1e-4, atol=1e-7)
  np.testing.assert_allclose(pb['conv1/kernel'], pa['conv1/kernel'])


def test_bad_regex_is_a_user_error():
  with pytest.raises(UserError, match=r"bad regex '\(' in config.freeze"):
    resnet_and_state(freeze='(')


def test_merge_keeps_a_fresh_head_only_when_its_shape_differs():
  fresh = {'params': {'conv': {'kernel': np.zeros((3, 3))}, 'fc': {'kernel': np.zeros((4, 10))}}}
  loaded = {'params': {'conv': {'kernel': np.ones((3, 3))}, 'fc': {'kernel': np.ones((4, 1000))}}}
  merged, reinit = transfer.merge_pretrained(fresh, loaded, 'fc', 'w.pth')
  np.testing.assert_array_equal(merged['params']['conv']['kernel'], 1)
  np.testing.assert_array_equal(merged['params']['fc']['kernel'], 0)
  assert reinit == ['fc/kernel']
  bad = {'params': {'conv': {'kernel': np.ones((5, 5))}, 'fc': loaded['params']['fc']}}
  with pytest.raises(UserError, match=r'init_from w.pth does not fit the model: conv/kernel has shape \(5, 5\)'):
    transfer.merge_pretrained(fresh, bad, 'fc', 'w.pth')


def test_init_from_a_previous_run_starts_from_its_weights(tmp_path, monkeypatch):
  first = run(load_config('digits_cnn'), str(tmp_path / 'first'))
  config = load_config('digits_cnn')
  monkeypatch.chdir(tmp_path)
  config.init_from = 'first'  # a relative path (orbax only restores absolute ones)
  config.num_train_steps = 2
  config.schedule.base_lr = 0.0
  config.eval_every_steps = 2
  second = run(config, str(tmp_path / 'second'))
  # With a zero learning rate the second run evaluates exactly the first run's final weights.
  assert second['accuracy'] == first['accuracy'] and np.isclose(second['loss'], first['loss'], rtol=1e-6)
