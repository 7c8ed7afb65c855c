"""Metric outputs of a run: WORKDIR/metrics.jsonl, TensorBoard events, a console progress line.

metrics.jsonl holds one JSON object per logged step and split, e.g.
  {"step": 500, "split": "eval", "loss": 0.07, "accuracy": 0.981, "top5_accuracy": 1.0}
Train lines are means over their log interval and also carry learning_rate, steps_per_sec,
images_per_sec and steps_averaged (the interval's length; after a resume, the first line averages
only the steps since the restored checkpoint, and says how many). On resume,
lines past the restored step (from work that the checkpoint rolled back) are dropped,
so the file always describes one consistent run.
"""

import datetime
import importlib.util
import json
import os
import time
from typing import Optional

from absl import logging

from vision_jax.data import hide_gpus_from_tensorflow
from vision_jax.errors import UserError


def read_metrics(path: str) -> list[dict]:
  """All records of a metrics.jsonl file (an empty list if it does not exist). A torn last line
  (the run was killed while appending it) is dropped with a warning; any other line that is not
  JSON is a UserError naming it."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    lines = [(number, line) for number, line in enumerate(f, 1) if line.strip()]
  records = []
  for number, line in lines:
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError:
      if number != lines[-1][0]:
        raise UserError(f'{path} line {number} is not a JSON record: {line.strip()[:60]!r}') from None
      logging.warning('%s: dropped its torn last line (the run was killed while writing it): %r', path,
                      line.strip()[:60])
  return records


def _truncate_after(path: str, step: int) -> None:
  kept = [r for r in read_metrics(path) if r['step'] <= step]
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in kept)
  os.replace(tmp, path)


def _tensorboard_writer(logdir: str):
  """(tf.summary, a writer) when TensorFlow is installed, else None (the GPU machine lacks TF)."""
  if importlib.util.find_spec('tensorflow') is None or importlib.util.find_spec('tensorboard') is None:
    logging.warning('TensorFlow or TensorBoard is not installed: no TensorBoard events are written')
    return None
  hide_gpus_from_tensorflow()
  import tensorflow as tf  # deferred: TensorFlow is optional (the GPU machine has none)
  return tf.summary, tf.summary.create_file_writer(logdir)


class MetricWriter:
  """Writes records to metrics.jsonl and TensorBoard (on the first process only)."""

  def __init__(self, workdir: str, start_step: int, enabled: bool = True):
    self.path = os.path.join(workdir, 'metrics.jsonl')
    self.enabled = enabled
    self._tb = None
    if enabled:
      _truncate_after(self.path, start_step)
      self._tb = _tensorboard_writer(os.path.join(workdir, 'tensorboard'))

  def write(self, step: int, split: str, metrics: dict) -> dict:
    record = {'step': int(step), 'split': split, **{k: float(v) for k, v in metrics.items()}}
    if not self.enabled:
      return record
    with open(self.path, 'a') as f:
      f.write(json.dumps(record) + '\n')
    if self._tb is not None:
      summary, tb_writer = self._tb
      with tb_writer.as_default(step=int(step)):
        for k, v in metrics.items():
          summary.scalar(f'{split}/{k}', float(v))
      tb_writer.flush()
    return record

  def close(self) -> None:
    if self._tb is not None:
      self._tb[1].close()


class Progress:
  """Steps/s, images/s and ETA between successive log points."""

  def __init__(self, start_step: int, num_train_steps: int, global_batch_size: int):
    self.num_train_steps, self.batch = num_train_steps, global_batch_size
    self._step, self._time = start_step, time.perf_counter()

  def update(self, step: int) -> dict:
    now = time.perf_counter()
    steps_per_sec = (step - self._step) / max(now - self._time, 1e-9)
    self._step, self._time = step, now
    return {'steps_per_sec': steps_per_sec, 'images_per_sec': steps_per_sec * self.batch}

  def line(self, step: int, rates: dict, metrics: dict) -> str:
    remaining = (self.num_train_steps - step) / max(rates['steps_per_sec'], 1e-9)
    eta = datetime.timedelta(seconds=int(remaining))
    shown = ' '.join(f'{k} {v:.4g}' for k, v in metrics.items())
    return (f'step {step}/{self.num_train_steps} | {rates["steps_per_sec"]:.1f} steps/s | '
            f'{rates["images_per_sec"]:.0f} img/s | ETA {eta} | {shown}')


def summary_line(record: Optional[dict], prefix: str = 'final eval') -> str:
  """One line with every metric of an eval record (the run's closing summary)."""
  if record is None:
    return f'{prefix}: none was run'
  shown = ' '.join(f'{k}={v:.4g}' for k, v in record.items() if k not in ('step', 'split'))
  return f'{prefix} at step {record["step"]}: {shown}'
