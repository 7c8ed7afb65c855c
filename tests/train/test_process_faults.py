"""Multi-process faults end, each process with one line and a non-zero exit, in bounded time:
bad flags, a coordinator nobody answers at, a peer killed mid-training (issue #15 item 9)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.helpers import LAUNCH, ROOT, launch, metrics, subprocess_env
from tests.test_errors import assert_one_line_error
from vision_jax.launching import distributed_flags_problem

SMOKE = ['--config=configs/digits_cnn.py:smoke']
LATE_EXIT_LAUNCH = os.path.join(ROOT, 'tests', 'late_exit_launch.py')


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


@pytest.mark.parametrize('flags, problem', [
    ((None, 2, None), '--num_processes and --process_id need --coordinator_address=HOST:PORT'),
    (('localhost', 2, 0), '--coordinator_address=localhost is not HOST:PORT'),
    (('localhost:1234', 2, 2), '--process_id=2 must be in [0, 1] for --num_processes=2'),
    (('localhost:1234', None, None), '--coordinator_address needs --num_processes and --process_id'),
    (('localhost:1234', 2, 1), None),
])
def test_process_flags_are_checked_before_any_connection(flags, problem):
  found = distributed_flags_problem(*flags)
  assert found is None if problem is None else problem in found, found


def test_a_bad_process_flag_is_one_line_before_any_work(tmp_path):
  assert_one_line_error(launch(SMOKE + [f'--workdir={tmp_path}', '--num_processes=2']),
                        '--num_processes and --process_id need --coordinator_address')
  assert not os.path.exists(tmp_path / 'metrics.jsonl')


def test_unanswered_coordinator_ends_after_the_timeout(tmp_path):
  start = time.time()
  result = launch(SMOKE + [f'--workdir={tmp_path}', f'--coordinator_address=localhost:{free_port()}',
                           '--num_processes=2', '--process_id=1', '--config.distributed.initialization_timeout_s=3'],
                  timeout=120)
  assert_one_line_error(result, 'no answer from the coordinator at localhost:', 'within 3 s')
  assert time.time() - start < 60


def _start_pair(workdir, port: int, launcher: str = LAUNCH, steps: int = 100000) -> list[subprocess.Popen]:
  return [subprocess.Popen(
      [sys.executable, launcher] + SMOKE + [f'--workdir={workdir}', f'--coordinator_address=localhost:{port}',
                                            '--num_processes=2', f'--process_id={i}', f'--config.num_train_steps={steps}',
                                            '--config.log_every_steps=2', '--config.eval_every_steps=0',
                                            '--config.checkpoint_every_steps=0'],
      cwd=ROOT, env=subprocess_env(1), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
      for i in range(2)]


def crash_report(stderr: str) -> str:
  """The part of a process's stderr that says why it died: from the first fatal marker (a C++ check,
  an uncaught C++ exception, Python's fatal-error dump) for 3,000 characters, else the last 2,000.
  (A clean-clone CI run once saw the SIGTERMed worker abort (-6) with only its module list in view.)"""
  found = re.search(r'Fatal Python error|Check fail|terminate called|^F\d{4} ', stderr, re.MULTILINE)
  return stderr[found.start():found.start() + 3000] if found else stderr[-2000:]


def _start_pair_and_wait_for_training(workdir, launcher: str = LAUNCH) -> list[subprocess.Popen]:
  """Two processes with one device each, once both train (a train record is logged)."""
  processes = _start_pair(workdir, free_port(), launcher)
  path, deadline = workdir / 'metrics.jsonl', time.time() + 240
  while time.time() < deadline and all(p.poll() is None for p in processes):
    if path.exists() and metrics(str(workdir), 'train'):
      break
    time.sleep(0.05)
  assert all(p.poll() is None for p in processes), [p.stderr.read()[-2000:] for p in processes]
  return processes


def _kill_one_mid_training(workdir, victim: int) -> tuple[subprocess.Popen, str, float]:
  """Starts two processes, SIGKILLs `victim` once training is logged; (survivor, its stderr, seconds it took)."""
  processes = _start_pair_and_wait_for_training(workdir)
  processes[victim].send_signal(signal.SIGKILL)
  killed_at = time.time()
  survivor = processes[1 - victim]
  _, stderr = survivor.communicate(timeout=120)
  processes[victim].wait()
  return survivor, stderr, time.time() - killed_at


def test_coordinator_survives_a_killed_worker_with_one_line(tmp_path):
  survivor, stderr, seconds = _kill_one_mid_training(tmp_path, victim=1)
  assert seconds < 60
  assert survivor.returncode == 1, stderr[-3000:]
  assert 'Traceback' not in stderr and 'Check failure' not in stderr, stderr[-3000:]
  assert stderr.strip().splitlines()[-1].startswith(
      'error: process 0 of 2 stopped because another process stopped answering'), stderr[-3000:]


def test_worker_ends_when_the_coordinator_is_killed(tmp_path):
  # Bounded and non-zero, but not always one line: when JAX's coordination client notices the lost
  # coordinator before a collective does, it aborts the process from C++ (client.h's fatal "Terminating
  # process because the JAX distributed service detected fatal errors"); when a collective notices
  # first, the line is ours. Tried (issue #28): jaxlib 0.10.2's get_distributed_runtime_client takes a
  # missed_heartbeat_callback, but calling a Python one fails to convert its absl::Status argument
  # (std::bad_cast, abort: -6 in 2 of 3 runs); the option that stops the error polling
  # (poll_for_error_from_service_at_startup) is not exposed to Python.
  survivor, stderr, seconds = _kill_one_mid_training(tmp_path, victim=0)
  assert seconds < 60
  assert survivor.returncode != 0, stderr[-3000:]


@pytest.mark.parametrize('launcher', [LAUNCH, LATE_EXIT_LAUNCH], ids=['launch', 'worker_exits_late'])
def test_sigterm_to_one_process_stops_both_at_one_saved_step(tmp_path, launcher):
  # issue #15 item 10 across processes; one device per process also covers the train key that was
  # placed with device_put and broke every checkpoint save in that layout. A worker that reached
  # jax.distributed.shutdown after the coordinator used to abort (-6): see shutdown_distributed.
  processes = _start_pair_and_wait_for_training(tmp_path, launcher)
  processes[1].send_signal(signal.SIGTERM)
  errors = [p.communicate(timeout=120)[1] for p in processes]
  assert [p.returncode for p in processes] == [75, 75], [crash_report(e) for e in errors]
  lines = [e.strip().splitlines()[-1] for e in errors]
  assert lines[0] == lines[1] and lines[0].startswith('preempted: stopped on SIGTERM at step '), lines
  step = lines[0].split('at step ')[1].split(',')[0]
  assert max(os.listdir(tmp_path / 'checkpoints'), key=int) == step


def test_a_worker_exiting_after_the_coordinator_finishes_cleanly(tmp_path):
  processes = _start_pair(tmp_path, free_port(), LATE_EXIT_LAUNCH, steps=4)
  errors = [p.communicate(timeout=240)[1] for p in processes]
  assert [p.returncode for p in processes] == [0, 0], [crash_report(e) for e in errors]
