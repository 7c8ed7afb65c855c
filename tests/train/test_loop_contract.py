"""The loop contract with a toy method of a few lines: no 'loss' key needed, evaluator cadence,
resume gives identical metrics, and a non-finite loss stops with the last good checkpoint kept."""

import os

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from tests.helpers import metrics
from vision_jax.errors import UserError
from vision_jax.evaluation.evaluators import PictureEvaluator
from vision_jax.train.loop import Method, TrainingDiverged, train_and_evaluate


def toy_method(blow_up_at: int = 0) -> Method:
  """w moves halfway to the batch mean each step; reports 'error' (and a 'toy_loss' that becomes
  inf at step blow_up_at)."""
  def train_step(state, batch, rng):
    w = state['w'] + 0.5 * (jnp.mean(batch['x']) - state['w'])
    step = state['step'] + 1
    toy_loss = jnp.where(step == blow_up_at, jnp.inf, (w - 3.0) ** 2)
    return {'w': w, 'step': step}, {'error': jnp.abs(w - 3.0), 'toy_loss': toy_loss}

  def batches(start_step):
    step = start_step
    while True:
      yield {'x': np.full((2,), 3.0 + np.sin(step), np.float32)}
      step += 1
  return Method(create_state=lambda rng: {'w': jnp.zeros(()), 'step': jnp.zeros((), jnp.int32)},
                train_step=train_step, train_batches=batches)


class Recorder:
  """An evaluator reporting the current w, remembering the steps it ran at."""

  def __init__(self, name='eval', every_steps=3):
    self.name, self.every_steps, self.plot_keys, self.steps = name, every_steps, ('w',), []

  def __call__(self, state, step):
    self.steps.append(step)
    return {'w': float(state['w'])}


def toy_config(num_train_steps: int) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({'seed': 0, 'num_train_steps': num_train_steps, 'log_every_steps': 1,
                                    'eval_every_steps': 3, 'checkpoint_every_steps': 2, 'keep_checkpoints': 2,
                                    'batch_size': 2})


def test_a_method_without_a_loss_key_trains_and_each_evaluator_keeps_its_cadence(tmp_path):
  every, last = Recorder('eval', 3), Recorder('final', 0)
  pictures = []
  outcome = train_and_evaluate(toy_config(7), str(tmp_path), toy_method(),
                               [every, last, PictureEvaluator('pictures', 2, lambda s, step: pictures.append(step))])
  assert every.steps == [3, 6, 7] and last.steps == [7] and pictures == [2, 4, 6, 7]
  assert float(outcome.state['w']) == outcome.records['eval']['w']
  assert outcome.final['final_w'] == outcome.final['w'] and outcome.final['step'] == 7
  train = metrics(str(tmp_path), 'train')
  assert [r['step'] for r in train] == list(range(1, 8)) and 'loss' not in train[0]
  assert train[-1]['error'] < train[0]['error']
  assert [r['step'] for r in metrics(str(tmp_path), 'final')] == [7]
  assert os.path.exists(tmp_path / 'plots' / 'curves.png')


def test_resume_after_an_interruption_gives_identical_metrics(tmp_path):
  train_and_evaluate(toy_config(8), str(tmp_path / 'whole'), toy_method(), [Recorder()])
  train_and_evaluate(toy_config(5), str(tmp_path / 'split'), toy_method(), [Recorder()])  # saved at 4 and 5
  train_and_evaluate(toy_config(8), str(tmp_path / 'split'), toy_method(), [Recorder()])
  whole, split = metrics(str(tmp_path / 'whole')), metrics(str(tmp_path / 'split'))
  drop = lambda rs: [{k: v for k, v in r.items() if not k.endswith('per_sec')} for r in rs if r['step'] != 5
                     or r['split'] == 'train']
  assert drop(split) == drop(whole)


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
  with pytest.raises(TrainingDiverged, match=r'toy_loss became non-finite by step 5; stopping \(the last good '
                                             r'checkpoint is step 4'):
    train_and_evaluate(toy_config(8), str(tmp_path), toy_method(blow_up_at=5), [Recorder()])
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '4']


def test_train_records_average_the_log_interval_whatever_the_checkpoint_cadence(tmp_path):
  # issue #15 item 4: a checkpoint between two logs used to restart the average.
  config = toy_config(6)
  config.log_every_steps = 3
  train_and_evaluate(config, str(tmp_path / 'ckpt2'), toy_method())
  config.checkpoint_every_steps = 3
  train_and_evaluate(config, str(tmp_path / 'ckpt3'), toy_method())
  every_2, every_3 = metrics(str(tmp_path / 'ckpt2'), 'train'), metrics(str(tmp_path / 'ckpt3'), 'train')
  assert [r['step'] for r in every_2] == [3, 6]
  np.testing.assert_allclose([r['error'] for r in every_2], [r['error'] for r in every_3], rtol=1e-6)


def test_a_workdir_past_num_train_steps_is_refused_and_left_alone(tmp_path):
  # issue #15 item 1: relaunching with fewer steps reported stale or mislabelled evaluations.
  train_and_evaluate(toy_config(6), str(tmp_path), toy_method(), [Recorder()])
  before = (tmp_path / 'metrics.jsonl').read_text()
  for fewer in (3, 5):
    with pytest.raises(UserError, match=f'holds step 6, beyond num_train_steps {fewer}: raise num_train_steps'):
      train_and_evaluate(toy_config(fewer), str(tmp_path), toy_method(), [Recorder()])
  assert (tmp_path / 'metrics.jsonl').read_text() == before
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['4', '6']
  again = train_and_evaluate(toy_config(6), str(tmp_path), toy_method(), [Recorder()])  # same length: reports
  assert again.final['step'] == 6
