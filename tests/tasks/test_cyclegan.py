"""CycleGAN on the bundled digit domains: the loss terms as the reference weighs them, the smoke run's
scores and grid, an exact resume with the image pools in the checkpoint, and bad input."""

import functools

import jax.numpy as jnp
import matplotlib.image
import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.helpers import load_config, metrics
from vision_jax.errors import UserError
from vision_jax.generative import losses
from vision_jax.generative.cyclegan import generator_loss, generator_terms
from vision_jax.tasks import run


def test_cycle_and_identity_terms_run_the_right_generator_on_the_right_domain():
  """With G_AB(x) = 2x + 1 and G_BA(x) = x / 3, every term has a value only the reference's
  wiring gives (cycle a -> b -> a, identity G_AB(b) against b, D_B on G_AB(a))."""
  a, b = jnp.full((1, 2, 2, 3), 0.5), jnp.full((1, 2, 2, 3), -0.25)
  maps = {'g_ab': lambda x: 2 * x + 1, 'g_ba': lambda x: x / 3}
  judged = {}

  def judge(name, x):
    judged[name] = float(x.mean())
    return losses.least_squares_g(x)
  out = generator_terms(lambda name, x: maps[name](x), judge, a, b, identity=True)
  terms = {k: float(v) for k, v in out['terms'].items()}
  close = functools.partial(np.testing.assert_allclose, rtol=1e-6)
  close(judged['d_b'], 2.0)                   # G_AB(a) = 2
  close(judged['d_a'], -0.25 / 3)             # G_BA(b)
  close(terms['cycle_a'], abs(2.0 / 3 - 0.5))  # G_BA(G_AB(a)) - a
  close(terms['cycle_b'], abs(2 * (-0.25 / 3) + 1 + 0.25))
  close(terms['identity_a'], abs(2 * -0.25 + 1 + 0.25))  # G_AB(b) - b
  close(terms['identity_b'], abs(0.5 / 3 - 0.5))         # G_BA(a) - a
  close(terms['adversarial_b'], (2.0 - 1) ** 2)
  expected = (terms['adversarial_a'] + terms['adversarial_b'] + 10 * (terms['cycle_a'] + terms['cycle_b'])
              + 0.5 * 10 * (terms['identity_a'] + terms['identity_b']))
  np.testing.assert_allclose(float(generator_loss(out['terms'], 10.0, 0.5)), expected, rtol=1e-6)
  without = generator_terms(lambda name, x: maps[name](x), judge, a, b, identity=False)['terms']
  assert 'identity_a' not in without
  np.testing.assert_allclose(float(generator_loss(without, 10.0, 0.5)),
                             expected - 5 * (terms['identity_a'] + terms['identity_b']), rtol=1e-6)


def test_lsgan_losses_are_the_references_mse():
  real, fake = jnp.array([0.5, 1.5]), jnp.array([0.25, -1.0])
  np.testing.assert_allclose(losses.least_squares_d(real, fake), 0.5 * (0.25 + (0.0625 + 1.0) / 2), rtol=1e-6)
  np.testing.assert_allclose(losses.least_squares_g(fake), (0.5625 + 4.0) / 2, rtol=1e-6)


def test_digits_smoke_scores_all_four_metrics_and_draws_a_cycle_grid(tmp_path):
  final = run(load_config('digits_cyclegan'), str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 360
  for key in ('l1', 'psnr', 'ssim', 'translation_accuracy', 'domain_accuracy', 'cycle_l1'):
    assert np.isfinite(final[key]), key
  assert 0 <= final['domain_accuracy'] <= 1 and 0 < final['cycle_l1'] < 1
  train = metrics(str(tmp_path), 'train')[-1]
  assert {'g_loss', 'd_a_loss', 'd_b_loss', 'cycle_a', 'cycle_b', 'identity_a', 'identity_b',
          'adversarial_a', 'adversarial_b'} <= set(train)
  grid = matplotlib.image.imread(tmp_path / 'samples' / 'step_0000004.png')[..., :3]
  assert grid.shape[:2] == (3 * 32, 16 * 32)  # A, G_AB(A), G_BA(G_AB(A)) of 16 test digits
  inputs = grid[:32]
  np.testing.assert_allclose(inputs[..., 0], inputs[..., 2], atol=1 / 255)  # grey domain A
  from vision_jax import inference
  translator = inference.load(str(tmp_path))
  a = np.round(inputs[:, :32, 0] * 255).astype(np.uint8)
  np.testing.assert_allclose(translator.predict([a])[0] / 255, grid[32:64, :32], atol=3 / 255)  # G_AB(A) as drawn
  assert translator.predict([np.zeros((40, 40, 3), np.uint8)], direction='BtoA')[0].shape == (32, 32, 3)
  with pytest.raises(UserError, match="unknown direction 'AtoC'"):
    translator.predict([a], direction='AtoC')


def short(steps: int):
  config = load_config('digits_cyclegan')
  config.scorer = config.domain_scorer = None
  config.schedule.name = 'constant'  # the linear decay's length follows num_train_steps, which the split run changes
  config.num_train_steps, config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps = steps, 1, 6, 3
  return config


def test_a_relaunch_resumes_exactly_with_the_image_pools(tmp_path):
  """Batch 16 fills the 8-image pools in the first step; from then on D sees swapped-out fakes, so
  the losses after the relaunch match only if the pools came back from the checkpoint."""
  whole = run(short(6), str(tmp_path / 'whole'))
  run(short(3), str(tmp_path / 'split'))
  resumed = run(short(6), str(tmp_path / 'split'))
  a, b = metrics(str(tmp_path / 'whole'), 'train'), metrics(str(tmp_path / 'split'), 'train')
  assert [r['step'] for r in b] == [1, 2, 3, 4, 5, 6]
  for key in ('g_loss', 'd_a_loss', 'd_b_loss', 'cycle_a'):
    np.testing.assert_allclose([r[key] for r in a], [r[key] for r in b], rtol=1e-5, err_msg=key)
  np.testing.assert_allclose(whole['cycle_l1'], resumed['cycle_l1'], rtol=1e-5)
  manager = ocp.CheckpointManager(str(tmp_path / 'split' / 'checkpoints'), item_handlers=ocp.StandardCheckpointHandler())
  tree = manager.item_metadata(3)['state']
  assert set(tree['nets']) == {'g_ab', 'g_ba', 'd_a', 'd_b'} and set(tree['ema']) == {'g_ab', 'g_ba'}
  assert set(tree['buffers']) == {'pool_a', 'pool_b'}
  pool = manager.restore(3, args=ocp.args.StandardRestore())['state']['buffers']['pool_b']
  images, count = (pool['images'], pool['count']) if isinstance(pool, dict) else pool
  assert int(count) == 8 and np.asarray(images).shape == (8, 32, 32, 3) and np.abs(np.asarray(images)).sum() > 0


def test_identity_loss_across_different_channel_counts_is_one_clear_error(tmp_path):
  config = short(2)
  config.dataset.a_channels = 1
  with pytest.raises(UserError, match=r'identity_weight needs both domains with the same channels, got 1 \(A\) '
                                      r'and 3 \(B\): set dataset.a_channels = 3 or identity_weight = 0'):
    run(config, str(tmp_path))
  config.cyclegan.identity_weight = 0.0
  assert run(config, str(tmp_path))['step'] == 2


def test_data_without_a_second_domain_is_one_clear_error(tmp_path):
  config = short(2)
  config.dataset.domain = 'b'
  with pytest.raises(UserError, match="cyclegan needs two domains: batches with a 'target' image"):
    run(config, str(tmp_path))


def test_tfds_recipe_runs_under_mock_data_with_fid_both_ways(tmp_path):
  # monet2photo differs only in its dataset name and length (test_paper_settings_of_the_256_px_recipes).
  import tensorflow_datasets as tfds
  import torch
  from benchmarks import torch_models as ref
  torch.manual_seed(0)
  weights = tmp_path / 'inception.pth'
  torch.save(ref.randomise_batch_norm(ref.Inception3(1008)).state_dict(), weights)  # pytorch-fid's layout
  config = load_config('cyclegan', 'horse2zebra,smoke')
  assert config.num_train_steps == 4 and config.dataset.name == 'cycle_gan/horse2zebra'
  config.fid_weights = str(weights)
  for name in ('fid_ab', 'fid_ba'):
    config.evals[name].update(image_size=75, real_examples=8, every_steps=0)
  with tfds.testing.mock_data(num_examples=8):
    final = run(config, str(tmp_path / 'run'))
  assert final['step'] == 4 and final['num_examples'] == 8
  assert 0 < final['cycle_l1'] < 1 and 'psnr' not in final  # testA has no paired B
  for key in ('fid_ab', 'kid_ab', 'fid_ba', 'kid_ba'):
    assert np.isfinite(final[key]), key
  assert final['fid_ab'] > 0 and final['fid_ab'] != final['fid_ba']
  grid = matplotlib.image.imread(tmp_path / 'run' / 'samples' / 'step_0000004.png')
  assert grid.shape[:2] == (3 * 64, 2 * 64)


@pytest.mark.parametrize('dataset, epoch', [('horse2zebra', 1334), ('monet2photo', 6287)])
def test_paper_settings_of_the_256_px_recipes(dataset, epoch):
  c = load_config('cyclegan', dataset)
  assert c.dataset.name == f'cycle_gan/{dataset}' and c.dataset.image_size == 256
  assert (c.dataset.train_split, c.dataset.b_train_split) == ('trainA', 'trainB')
  assert (c.cyclegan.g_blocks, c.cyclegan.d_layers, c.cyclegan.norm, c.gan.loss) == (9, 3, 'instance', 'lsgan')
  assert (c.cyclegan.cycle_weight, c.cyclegan.identity_weight, c.cyclegan.pool_size) == (10.0, 0.5, 50)
  assert (c.optimizer.name, c.optimizer.b1, c.schedule.base_lr, c.batch_size) == ('adam', 0.5, 2e-4, 1)
  assert (c.schedule.name, c.schedule.decay_start, c.num_train_steps) == ('linear', 0.5, 200 * epoch)


def test_an_fid_direction_the_method_lacks_is_one_clear_error(tmp_path):
  from configs import common
  config = short(2)
  config.evals.fid_x = common.evaluator('fid', weights='inception.pth', direction='ab')
  with pytest.raises(UserError, match=r"evals.fid_x.direction 'ab' is not one of this method's: ba"):
    run(config, str(tmp_path))
