"""Data parallelism gives the same training whatever the device and process layout."""

import socket
import subprocess

import numpy as np

from tests.helpers import LAUNCH, ROOT, launch, metrics, subprocess_env

STEPS = ['--config=configs/digits_cnn.py:smoke', '--config.num_train_steps=6', '--config.log_every_steps=1',
         '--config.batch_size=32', '--config.eval_batch_size=48', '--config.eval_every_steps=6',
         '--config.checkpoint_every_steps=6']


def losses(workdir) -> np.ndarray:
  return np.array([r['loss'] for r in metrics(str(workdir), 'train')])


def test_eight_devices_match_one_device(tmp_path):
  for devices in (1, 8):
    result = launch(STEPS + [f'--workdir={tmp_path}/{devices}'], num_devices=devices)
    assert result.returncode == 0, result.stderr[-3000:]
  one, eight = losses(tmp_path / '1'), losses(tmp_path / '8')
  assert len(one) == 6
  np.testing.assert_allclose(eight, one, rtol=1e-5)
  # 360 eval examples in batches of 48 (6 per device): the last batch is padded and masked.
  for devices in (1, 8):
    final = metrics(str(tmp_path / str(devices)), 'eval')[-1]
    assert final['num_examples'] == 360
  np.testing.assert_allclose(metrics(str(tmp_path / '8'), 'eval')[-1]['accuracy'],
                             metrics(str(tmp_path / '1'), 'eval')[-1]['accuracy'])


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def test_two_processes_match_one_process_with_four_devices(tmp_path):
  import sys
  port = _free_port()
  workers = [subprocess.Popen(
      [sys.executable, LAUNCH] + STEPS + [f'--workdir={tmp_path}/multi', f'--coordinator_address=localhost:{port}',
                                          '--num_processes=2', f'--process_id={i}'],
      cwd=ROOT, env=subprocess_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)]
  outputs = [w.communicate(timeout=300) for w in workers]
  for worker, (_, err) in zip(workers, outputs):
    assert worker.returncode == 0, err[-3000:]
  assert 'process 1 of 2, 2 local / 4 global devices' in outputs[1][1]
  single = launch(STEPS + [f'--workdir={tmp_path}/single'], num_devices=4)
  assert single.returncode == 0, single.stderr[-3000:]
  np.testing.assert_allclose(losses(tmp_path / 'multi'), losses(tmp_path / 'single'), rtol=1e-5)
  assert metrics(str(tmp_path / 'multi'), 'eval')[-1]['num_examples'] == 360
