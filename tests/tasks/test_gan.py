"""The GAN task on the bundled digits: smoke run outputs, a resume that continues the curves
exactly, and bad input."""

import os

import numpy as np
import pytest

from tests.helpers import load_config, metrics
from vision_jax.errors import UserError
from vision_jax.tasks import run


def small(**overrides):
  config = load_config('digits_dcgan')
  config.num_train_steps = 6
  config.log_every_steps = 1
  config.eval_every_steps = 6
  config.checkpoint_every_steps = 3
  config.update(overrides)
  return config


def test_smoke_writes_scores_samples_and_a_complete_checkpoint(tmp_path, smoke_scorer):
  final = run(load_config('digits_dcgan'), smoke_scorer(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 100
  for key in ('confident_frac', 'min_class_frac', 'fd_digits', 'fd_digits_real', 'confident_frac_real'):
    assert key in final and np.isfinite(final[key])
  assert final['confident_frac_real'] > 0.5 or final['fd_digits_real'] < final['fd_digits']
  assert os.path.exists(tmp_path / 'samples' / 'step_0000004.png')
  train = metrics(str(tmp_path), 'train')
  assert {'d_loss', 'g_loss', 'd_real', 'd_fake'} <= set(train[-1])
  saved = os.listdir(tmp_path / 'checkpoints' / '4' / 'default')
  assert saved  # orbax item folder
  from vision_jax.train.checkpoint import latest_checkpoint
  import orbax.checkpoint as ocp
  manager = ocp.CheckpointManager(str(tmp_path / 'checkpoints'), item_handlers=ocp.StandardCheckpointHandler())
  tree = manager.item_metadata(4)['state']
  assert set(tree) == {'nets', 'ema', 'buffers'} and set(tree['nets']) == {'g', 'd'} and set(tree['ema']) == {'g'}
  assert {'params', 'opt_state', 'batch_stats', 'step'} <= set(tree['nets']['g']) and 'opt_state' in tree['nets']['d']
  assert set(tree['ema']['g']) == {'params', 'batch_stats'}
  assert latest_checkpoint(str(tmp_path)).endswith('/4')
  from vision_jax import inference
  sampler = inference.load(str(tmp_path), batch_size=4)
  samples = sampler.sample(6, seed=1)     # two batches of 4, the second padded
  assert samples.shape == (6, 32, 32, 1) and samples.dtype == np.uint8 and samples.std() > 0
  np.testing.assert_array_equal(sampler.sample(6, seed=1), samples)
  assert not np.array_equal(sampler.sample(6, seed=2), samples)


def test_resumed_run_continues_its_curves_without_a_jump(tmp_path, smoke_scorer):
  whole = run(small(), smoke_scorer(tmp_path / 'whole'))
  run(small(num_train_steps=3), smoke_scorer(tmp_path / 'split'))
  resumed = run(small(), str(tmp_path / 'split'))
  a, b = metrics(str(tmp_path / 'whole'), 'train'), metrics(str(tmp_path / 'split'), 'train')
  assert [r['step'] for r in b] == [1, 2, 3, 4, 5, 6]
  for x, y in zip(a, b):
    np.testing.assert_allclose([x['d_loss'], x['g_loss']], [y['d_loss'], y['g_loss']], rtol=1e-5)
  np.testing.assert_allclose(whole['fd_digits'], resumed['fd_digits'], rtol=1e-4)


def test_unsupported_image_size_is_one_clear_error(tmp_path):
  config = load_config('digits_dcgan')
  config.dataset.image_size = 48
  with pytest.raises(UserError, match=r'DCGAN supports image sizes \(32, 64\), got 48'):
    run(config, str(tmp_path))


def test_fid_and_kid_from_a_user_supplied_inception_file(tmp_path, smoke_scorer):
  import torch
  from benchmarks import torch_models as ref
  torch.manual_seed(0)
  weights = tmp_path / 'inception.pth'
  torch.save(ref.randomise_batch_norm(ref.Inception3(1008)).state_dict(), weights)  # pytorch-fid's 1008 classes
  config = load_config('digits_dcgan')
  config.evals.fid.weights = str(weights)
  config.evals.fid.image_size = 75
  config.evals.fid.real_examples = 50  # one batch of the eval size: one Inception compilation
  final = run(config, smoke_scorer(tmp_path / 'run'))
  assert np.isfinite(final['fid']) and final['fid'] > 0 and np.isfinite(final['kid'])
  assert np.load(tmp_path / 'run' / 'fid_real_features.npy').shape == (50, 2048)
