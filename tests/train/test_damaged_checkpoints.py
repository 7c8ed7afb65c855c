"""Damaged checkpoints (issue #15 item 7): one accurate line each, nothing touched; with
config.restore = 'latest_valid' the run resumes from the newest checkpoint that restores."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import launch, metrics, subprocess_env, tree_digest
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


def delete_every_data_file(step_dir):
  for folder in ('d', 'ocdbt.process_0/d'):
    shutil.rmtree(step_dir / 'default' / folder, ignore_errors=True)


def truncate_manifest(step_dir):
  manifest = step_dir / 'default' / 'manifest.ocdbt'
  manifest.write_bytes(manifest.read_bytes()[:20])


RELAUNCHES = 4   # fresh processes per damage, run side by side


@pytest.mark.parametrize('damage', [truncate_manifest, delete_every_data_file])
def test_repeated_relaunches_on_damage_found_by_the_metadata_read_print_no_traceback(tmp_path, damage):
  """Issue #28: a damaged manifest or deleted array files fail the metadata read, whose leftover
  asyncio reads printed 'Event loop is closed' tracebacks in 5 of 12 relaunches (quieted only from
  the restore on). Before the fix 3 of 12 runs of this script printed one; now 0 of 20 by hand."""
  script = os.path.join(os.path.dirname(__file__), 'restore_damaged.py')
  subprocess.run([sys.executable, script, str(tmp_path / 'base')], env=subprocess_env(), check=True,
                 capture_output=True)
  runs = []
  for i in range(RELAUNCHES):
    shutil.copytree(tmp_path / 'base', tmp_path / str(i))
    damage(tmp_path / str(i) / 'checkpoints' / '1')
    runs.append(subprocess.Popen([sys.executable, script, str(tmp_path / str(i))], env=subprocess_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  for run in runs:
    out, err = run.communicate(timeout=300)
    assert out.startswith('error: checkpoint ') and 'is damaged' in out, (out, err)
    assert 'Traceback' not in err and 'Event loop is closed' not in err, err

