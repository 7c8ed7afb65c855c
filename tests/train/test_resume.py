"""Kill-and-resume: a run SIGKILLed at any moment and relaunched ends like an uninterrupted one."""

import os
import shutil
import signal
import subprocess
import time

import numpy as np

from tests.helpers import launch, load_config, metrics, start_launch
from vision_jax.tasks import run

ARGS = ['--config=configs/digits_cnn.py:smoke', '--config.num_train_steps=60', '--config.log_every_steps=1',
        '--config.eval_every_steps=30', '--config.checkpoint_every_steps=3', '--config.keep_checkpoints=2']


def _kill_at_step(workdir, step: int) -> None:
  """Starts a run and SIGKILLs it as soon as it has logged `step` (mid-loop, often mid-save)."""
  process = start_launch(ARGS + [f'--workdir={workdir}'], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
  path = os.path.join(workdir, 'metrics.jsonl')
  deadline = time.time() + 240
  while process.poll() is None and time.time() < deadline:
    if os.path.exists(path) and any(r['step'] >= step for r in metrics(str(workdir))):
      break
    time.sleep(0.005)
  process.send_signal(signal.SIGKILL)
  process.wait()


def _assert_same_run(resumed, reference):
  ref_train, got_train = metrics(reference, 'train'), metrics(resumed, 'train')
  assert [r['step'] for r in got_train] == [r['step'] for r in ref_train]
  np.testing.assert_allclose([r['loss'] for r in got_train], [r['loss'] for r in ref_train], rtol=1e-6)
  ref_eval, got_eval = metrics(reference, 'eval'), metrics(resumed, 'eval')
  assert [r['step'] for r in got_eval] == [r['step'] for r in ref_eval] == [30, 60]
  for key in ('loss', 'accuracy', 'top5_accuracy'):
    np.testing.assert_allclose(got_eval[-1][key], ref_eval[-1][key], rtol=1e-6)


def test_sigkill_anywhere_then_relaunch_matches_uninterrupted_run(tmp_path):
  reference = tmp_path / 'reference'
  assert launch(ARGS + [f'--workdir={reference}']).returncode == 0
  resumed = tmp_path / 'resumed'
  for step in (4, 23, 41):
    _kill_at_step(resumed, step)
  final = launch(ARGS + [f'--workdir={resumed}'])
  assert final.returncode == 0, final.stderr[-3000:]
  assert 'resumed from' in final.stderr
  _assert_same_run(str(resumed), str(reference))


def test_checkpoint_left_half_written_is_ignored(tmp_path):
  """A kill during a save leaves orbax's temporary folder; the run resumes from the last complete one."""
  reference = tmp_path / 'reference'
  assert launch(ARGS + [f'--workdir={reference}', '--config.num_train_steps=30']).returncode == 0
  interrupted = tmp_path / 'interrupted'
  shutil.copytree(reference, interrupted)
  checkpoints = interrupted / 'checkpoints'
  shutil.rmtree(checkpoints / '30')
  partial = checkpoints / '30.orbax-checkpoint-tmp'
  shutil.copytree(checkpoints / '27', partial)
  for root, _, files in os.walk(partial):
    for name in files[: len(files) // 2]:
      os.remove(os.path.join(root, name))
  result = launch(ARGS + [f'--workdir={interrupted}', '--config.num_train_steps=30'])
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'resumed from {checkpoints}/27' in result.stderr
  np.testing.assert_allclose(metrics(str(interrupted), 'eval')[-1]['accuracy'],
                             metrics(str(reference), 'eval')[-1]['accuracy'], rtol=1e-6)
  assert sorted(os.listdir(checkpoints)) == ['27', '30']


def test_sigterm_saves_at_the_next_step_then_relaunch_matches_uninterrupted_run(tmp_path):
  # issue #15 item 10: a preemption notice (SIGTERM) saves a checkpoint off the cadence and stops with
  # status 75; the relaunch continues exactly.
  args = ARGS + ['--config.checkpoint_every_steps=1000']
  reference = tmp_path / 'reference'
  assert launch(args + [f'--workdir={reference}']).returncode == 0
  preempted = tmp_path / 'preempted'
  process = start_launch(args + [f'--workdir={preempted}'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
  path, deadline = preempted / 'metrics.jsonl', time.time() + 240
  while process.poll() is None and time.time() < deadline:
    if path.exists() and any(r['step'] >= 17 for r in metrics(str(preempted))):
      break
    time.sleep(0.005)
  process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=60)
  assert process.returncode == 75, stderr[-3000:]
  last = stderr.strip().splitlines()[-1]
  assert last.startswith('preempted: stopped on SIGTERM at step ') and 'relaunch the same command' in last, last
  step = int(last.split('at step ')[1].split(',')[0])
  assert 17 <= step < 60 and os.listdir(preempted / 'checkpoints') == [str(step)]
  final = launch(args + [f'--workdir={preempted}'])
  assert final.returncode == 0, final.stderr[-3000:]
  assert f'resumed from {preempted}/checkpoints/{step}' in final.stderr
  _assert_same_run(str(preempted), str(reference))


def test_each_train_line_says_how_many_steps_it_averages_also_after_a_resume(tmp_path):
  """Issue #28: the line after a resume averages only the steps since the restored checkpoint
  (README says so); steps_averaged makes that visible."""
  config = load_config('digits_cnn')
  config.update({'log_every_steps': 4, 'checkpoint_every_steps': 2, 'eval_every_steps': 0, 'num_train_steps': 6})
  run(config, str(tmp_path))  # in this process: the resume, not the process boundary, is under test
  config.num_train_steps = 12
  run(config, str(tmp_path))
  lines = [(r['step'], r['steps_averaged']) for r in metrics(str(tmp_path), 'train')]
  assert lines == [(4, 4), (6, 2), (8, 2), (12, 4)]
