import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import common
from tests.helpers import recorded_reads
from vision_jax.errors import UserError
from vision_jax.train.optimizers import (OPTIMIZER_KEYS, SCHEDULE_KEYS, create_learning_rate_fn,
                                         create_optimizer)


def schedule(**kw):
  c = common.classification_config().schedule
  c.update(kw)
  return c


def optimizer(**kw):
  c = common.classification_config().optimizer
  c.update(kw)
  return c


def test_linear_warmup_then_constant():
  lr = create_learning_rate_fn(schedule(name='constant', base_lr=0.4, warmup_steps=4), 100)
  np.testing.assert_allclose([lr(0), lr(2), lr(4), lr(50)], [0.0, 0.2, 0.4, 0.4], rtol=1e-6)


def test_piecewise_decays_at_fractional_and_absolute_boundaries():
  lr = create_learning_rate_fn(schedule(name='piecewise', base_lr=1.0, boundaries=(0.5, 80)), 100)
  np.testing.assert_allclose([lr(49), lr(50), lr(79), lr(80)], [1.0, 0.1, 0.1, 0.01], rtol=1e-6)


def test_piecewise_boundaries_count_from_step_zero_with_warmup():
  lr = create_learning_rate_fn(schedule(name='piecewise', base_lr=1.0, warmup_steps=10,
                                        boundaries=[50]), 100)
  np.testing.assert_allclose([lr(5), lr(49), lr(50)], [0.5, 1.0, 0.1], rtol=1e-6)


def test_cosine_with_warmup_reaches_zero_at_the_end():
  lr = create_learning_rate_fn(schedule(name='cosine', base_lr=1.0, warmup_steps=10), 110)
  np.testing.assert_allclose([lr(10), lr(60), lr(110)], [1.0, 0.5, 0.0], atol=1e-6)


def test_linear_decay_ends_at_the_final_fraction_after_warmup():
  fn = create_learning_rate_fn(schedule(name='linear', base_lr=0.01, warmup_steps=10, final_lr_fraction=0.01), 110)
  np.testing.assert_allclose([fn(0), fn(10), fn(60), fn(110)], [0.0, 0.01, 0.00505, 0.0001], rtol=1e-5)


@pytest.mark.parametrize('decay_start', [0.5, 100])
def test_linear_holds_the_rate_until_decay_start_then_reaches_zero(decay_start):
  # CycleGAN's schedule: constant for the first half, then linearly to 0 (fraction or absolute step).
  fn = create_learning_rate_fn(schedule(name='linear', base_lr=2e-4, decay_start=decay_start), 200)
  np.testing.assert_allclose([fn(0), fn(100), fn(150), fn(200)], [2e-4, 2e-4, 1e-4, 0.0], atol=1e-9)


def test_unknown_names_list_the_choices():
  with pytest.raises(UserError, match="unknown schedule.name 'step'; choose one of: constant"):
    create_learning_rate_fn(schedule(name='step'), 10)
  with pytest.raises(UserError, match="unknown optimizer.name 'adagrad'; choose one of: sgd, adam, adamw"):
    create_optimizer(optimizer(name='adagrad'), optax.constant_schedule(0.1))


def _one_update(opt_config, params, grads):
  tx = create_optimizer(opt_config, optax.constant_schedule(0.1))
  updates, _ = tx.update(grads, tx.init(params), params)
  return updates


def test_sgd_weight_decay_applies_to_kernels_only():
  params = {'kernel': jnp.ones((2, 2)), 'bias': jnp.ones((2,))}
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates = _one_update(optimizer(name='sgd', momentum=0.9, weight_decay=0.5), params, zeros)
  np.testing.assert_allclose(updates['kernel'], -0.05)
  np.testing.assert_allclose(updates['bias'], 0.0)


def test_nesterov_differs_from_plain_momentum():
  params = {'kernel': jnp.ones((2, 2))}
  grads = {'kernel': jnp.ones((2, 2))}
  plain = _one_update(optimizer(name='sgd', momentum=0.9), params, grads)
  nesterov = _one_update(optimizer(name='sgd', momentum=0.9, nesterov=True), params, grads)
  np.testing.assert_allclose(plain['kernel'], -0.1, rtol=1e-6)
  np.testing.assert_allclose(nesterov['kernel'], -0.19, rtol=1e-6)


def test_gradient_clipping_bounds_the_global_norm():
  params = {'kernel': jnp.zeros((2, 2))}
  grads = {'kernel': jnp.full((2, 2), 10.0)}
  updates = _one_update(optimizer(name='sgd', momentum=0.0, grad_clip_norm=1.0), params, grads)
  np.testing.assert_allclose(optax.global_norm(updates), 0.1, rtol=1e-5)


def test_adamw_decay_is_decoupled():
  params = {'kernel': jnp.ones((2, 2))}
  zeros = {'kernel': jnp.zeros((2, 2))}
  adamw = _one_update(optimizer(name='adamw', weight_decay=0.1), params, zeros)
  adam_l2 = _one_update(optimizer(name='adam', weight_decay=0.1), params, zeros)
  np.testing.assert_allclose(adamw['kernel'], -0.1 * 0.1, rtol=1e-5)  # lr * wd * param
  np.testing.assert_allclose(adam_l2['kernel'], -0.1, rtol=1e-3)  # normalised by Adam


@pytest.mark.parametrize('name', sorted(OPTIMIZER_KEYS))
def test_optimizers_read_exactly_their_declared_keys(name):
  """OPTIMIZER_KEYS is what the launch lets an override change (any other optimizer key would have no
  effect): exactly the keys the optimizer reads."""
  config = optimizer(name=name, grad_clip_norm=1.0, weight_decay=1e-4)
  with recorded_reads(config) as reads:
    create_optimizer(config, optax.constant_schedule(0.1))
  assert reads == {'name', *OPTIMIZER_KEYS[name]}


@pytest.mark.parametrize('name', sorted(SCHEDULE_KEYS))
def test_schedules_read_exactly_their_declared_keys(name):
  config = schedule(name=name, warmup_steps=2)
  with recorded_reads(config) as reads:
    create_learning_rate_fn(config, 100)
  assert reads == {'name', *SCHEDULE_KEYS[name]}
