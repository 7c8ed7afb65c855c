"""End to end: every config's smoke variant, from launch to metrics.jsonl."""

import json
import os

import pytest
import tensorflow_datasets as tfds

from tests.helpers import launch, load_config, metrics, start_in_process
from vision_jax.tasks import run

def test_digits_smoke_writes_every_output(tmp_path):
  final = run(load_config('digits_cnn'), str(tmp_path))
  assert final['step'] == 4 and final['split'] == 'eval' and final['num_examples'] == 360
  assert final == metrics(str(tmp_path), 'eval')[-1]  # the summary is the last eval record
  assert final['top5_accuracy'] >= final['accuracy'] > 0.1  # above chance after 4 steps
  train = metrics(str(tmp_path), 'train')
  assert [r['step'] for r in train] == [2, 4]
  assert {'loss', 'accuracy', 'learning_rate', 'steps_per_sec', 'images_per_sec'} <= set(train[0])
  assert json.load(open(tmp_path / 'config.json'))['model']['name'] == 'lenet5'
  assert (tmp_path / 'plots' / 'curves.png').stat().st_size > 1000
  assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path / 'tensorboard'))
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '4']


def test_launch_prints_progress_and_summary(tmp_path):
  result = launch(['--config=configs/digits_cnn.py:smoke', f'--workdir={tmp_path}',
                   '--config.optimizer.name=adam', '--config.schedule.name=piecewise'])
  assert result.returncode == 0, result.stderr
  assert 'steps/s' in result.stderr and 'img/s' in result.stderr and 'ETA' in result.stderr
  summary = result.stdout.strip().splitlines()[-1]
  assert summary.startswith('final eval at step 4:') and 'accuracy=' in summary


@pytest.mark.parametrize('config, overrides, dataset', [
    ('mnist_lenet', [], 'mnist'),
    ('fashion_mnist_cnn', [], 'fashion_mnist'),
    ('mnist_lenet', ['--config.dataset.name=cifar10', '--config.dataset.augment=crop_flip',
                     '--config.dataset.image_size=32'], 'cifar10'),
])
def test_tfds_configs_run_under_mock_data(tmp_path, capfd, config, overrides, dataset):
  # In this process (launch.py's path after its flag parser): a subprocess would add its imports
  # (10-20 s) to each case.
  with tfds.testing.mock_data(num_examples=48):
    result = start_in_process(capfd, tmp_path, *overrides, config=f'{config}.py:smoke')
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.load(open(tmp_path / 'config.json'))['dataset']['name'] == dataset
  evals = metrics(str(tmp_path), 'eval')
  assert evals[-1]['step'] == 4 and evals[-1]['num_examples'] == 48
  assert all(r['loss'] > 0 for r in metrics(str(tmp_path), 'train'))
