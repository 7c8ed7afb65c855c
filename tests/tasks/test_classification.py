import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax.models import LeNet5
from vision_jax.evaluation import classification as accuracy
from vision_jax.tasks import classification as cls
from vision_jax.train.losses import correct_top_k, cross_entropy_loss
from vision_jax.train.state import create_train_state


def _state(model, lr=0.1):
  tx = optax.sgd(lr, momentum=0.9)
  return create_train_state(jax.random.PRNGKey(0), model, tx, (28, 28, 1))


def _batch(n=8, seed=0):
  rng = np.random.default_rng(seed)
  return {'image': rng.normal(size=(n, 28, 28, 1)).astype(np.float32),
          'label': rng.integers(0, 10, size=n).astype(np.int32)}


def test_cross_entropy_matches_hand_computation_with_label_smoothing():
  logits = jnp.array([[2.0, 0.0, -1.0]])
  log_p = jax.nn.log_softmax(logits)[0]
  targets = np.array([0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3])
  expected = -(targets * log_p).sum()
  np.testing.assert_allclose(cross_entropy_loss(logits, jnp.array([1]), 0.1)[0], expected, rtol=1e-6)
  np.testing.assert_allclose(cross_entropy_loss(logits, jnp.array([1]))[0], -log_p[1], rtol=1e-6)


def test_top_k_counts_label_among_highest_logits():
  logits = jnp.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
  labels = jnp.array([2, 0])
  np.testing.assert_array_equal(correct_top_k(logits, labels, 1), [0, 1])
  np.testing.assert_array_equal(correct_top_k(logits, labels, 2), [1, 1])
  np.testing.assert_array_equal(correct_top_k(logits, labels, 5), [1, 1])  # k capped at 3 classes


def test_gradient_accumulation_gives_the_full_batch_update():
  model = LeNet5()
  lr_fn = optax.constant_schedule(0.1)
  batch, rng = _batch(8), jax.random.PRNGKey(1)
  full, full_metrics = jax.jit(cls.make_train_step(model, lr_fn))(_state(model), batch, rng)
  accum, accum_metrics = jax.jit(cls.make_train_step(model, lr_fn, accum_steps=4))(_state(model), batch, rng)
  np.testing.assert_allclose(accum_metrics['loss'], full_metrics['loss'], rtol=1e-5)
  np.testing.assert_allclose(accum_metrics['accuracy'], full_metrics['accuracy'], rtol=1e-6)
  for a, b in zip(jax.tree.leaves(accum.params), jax.tree.leaves(full.params)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_bfloat16_compute_keeps_float32_parameters():
  model = LeNet5(dtype=jnp.bfloat16)
  state = _state(model)
  logits, _ = model.apply(state.variables(), _batch(2)['image'])
  assert logits.dtype == jnp.bfloat16
  state, metrics = jax.jit(cls.make_train_step(model, optax.constant_schedule(0.1)))(
      state, _batch(8), jax.random.PRNGKey(0))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(state.params))
  assert metrics['loss'].dtype == jnp.float32 and np.isfinite(metrics['loss'])


def test_eval_step_ignores_padding_rows():
  model = LeNet5()
  state = _state(model)
  batch = _batch(6)
  eval_step = jax.jit(accuracy.make_eval_step(model))
  real = eval_step(state, {**batch, 'mask': np.ones(6, np.float32)})
  garbage = {k: np.concatenate([v, v[:2] * 100]) for k, v in batch.items()}
  padded = eval_step(state, {**garbage, 'mask': np.array([1] * 6 + [0] * 2, np.float32)})
  for key in real:
    np.testing.assert_allclose(padded[key], real[key], rtol=1e-5)
  assert accuracy.summarise(jax.device_get(real))['num_examples'] == 6


def test_dropout_uses_the_step_rng():
  model = LeNet5(dropout_rate=0.5)
  step = jax.jit(cls.make_train_step(model, optax.constant_schedule(0.0)))
  batch = _batch(8)
  _, a = step(_state(model), batch, jax.random.PRNGKey(0))
  _, b = step(_state(model), batch, jax.random.PRNGKey(0))
  _, c = step(_state(model), batch, jax.random.PRNGKey(1))
  assert a['loss'] == b['loss'] and a['loss'] != c['loss']
