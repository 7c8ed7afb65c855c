"""Damaged checkpoints (issue #15 item 7): one accurate line each, nothing touched; with
config.restore = 'latest_valid' the run resumes from the newest checkpoint that restores."""

import os
import shutil

import pytest

from tests.helpers import launch, metrics, tree_digest
from tests.test_errors import assert_one_line_error

ARGS = ['--config=configs/digits_cnn.py:smoke', '--config.checkpoint_every_steps=5', '--config.keep_checkpoints=3',
        '--config.eval_every_steps=5']


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  """A workdir trained to step 10, with checkpoints 5 and 10."""
  workdir = tmp_path_factory.mktemp('finished')
  result = launch(ARGS + [f'--workdir={workdir}', '--config.num_train_steps=10'])
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


def truncate_largest_data_file(step_dir):
  files = [os.path.join(root, f) for root, _, names in os.walk(step_dir / 'default') for f in names
           if os.sep + 'd' + os.sep in os.path.join(root, f)]
  largest = max(files, key=os.path.getsize)
  with open(largest, 'r+b') as f:
    f.truncate(100)


def delete_metadata(step_dir):
  os.remove(step_dir / 'default' / '_METADATA')


def delete_data_files(step_dir):
  shutil.rmtree(step_dir / 'default' / 'ocdbt.process_0' / 'd')


@pytest.mark.parametrize('damage, reason', [
    (truncate_largest_data_file, 'OUT_OF_RANGE: Error reading'),
    (delete_metadata, 'default/_METADATA is missing'),
    (delete_data_files, 'Error reading'),
])
def test_each_damage_is_one_accurate_line_and_nothing_is_touched(finished, tmp_path, damage, reason):
  workdir = tmp_path / 'run'
  shutil.copytree(finished, workdir)
  damage(workdir / 'checkpoints' / '10')
  before = tree_digest(workdir / 'checkpoints')
  result = launch(ARGS + [f'--workdir={workdir}', '--config.num_train_steps=15'])
  assert_one_line_error(result, f'checkpoint {workdir}/checkpoints/10 is damaged (', reason,
                        'relaunch with --config.restore=latest_valid')
  assert 'Event loop is closed' not in result.stderr and 'never retrieved' not in result.stderr
  assert tree_digest(workdir / 'checkpoints') == before


def test_latest_valid_resumes_from_the_newest_good_checkpoint_and_keeps_the_damaged_one(finished, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(finished, workdir)
  truncate_largest_data_file(workdir / 'checkpoints' / '10')
  damaged = tree_digest(workdir / 'checkpoints' / '10')
  result = launch(ARGS + [f'--workdir={workdir}', '--config.num_train_steps=15', '--config.restore=latest_valid'])
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'checkpoint {workdir}/checkpoints/10 is damaged' in result.stderr
  assert f'resumed from {workdir}/checkpoints/5' in result.stderr
  assert tree_digest(workdir / 'checkpoints' / '10.damaged') == damaged
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['10', '10.damaged', '15', '5']
  assert [r['step'] for r in metrics(str(workdir), 'eval')] == [5, 10, 15]
