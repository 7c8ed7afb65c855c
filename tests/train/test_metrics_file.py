"""metrics.jsonl on resume: a torn last line (a kill while appending) is dropped, not a traceback."""

import json

import pytest

from vision_jax.errors import UserError
from vision_jax.train.metrics import MetricWriter, read_metrics

RECORDS = [{'step': 1, 'split': 'train', 'loss': 2.0}, {'step': 2, 'split': 'train', 'loss': 1.5}]


def write_lines(path, tail: str) -> None:
  path.write_text(''.join(json.dumps(r) + '\n' for r in RECORDS) + tail)


def test_a_torn_last_line_is_dropped_and_the_resumed_file_stays_valid(tmp_path):
  # issue #15 item 6: a torn final line blocked every resume with a JSON traceback.
  write_lines(tmp_path / 'metrics.jsonl', '{"step": 3, "split": "tr')
  assert read_metrics(str(tmp_path / 'metrics.jsonl')) == RECORDS
  writer = MetricWriter(str(tmp_path), start_step=2)
  writer.write(3, 'train', {'loss': 1.0})
  writer.close()
  assert read_metrics(str(tmp_path / 'metrics.jsonl')) == RECORDS + [{'step': 3, 'split': 'train', 'loss': 1.0}]


def test_a_broken_line_before_the_last_is_one_clear_error(tmp_path):
  path = tmp_path / 'metrics.jsonl'
  path.write_text(json.dumps(RECORDS[0]) + '\nnot json\n' + json.dumps(RECORDS[1]) + '\n')
  with pytest.raises(UserError, match='line 2 is not a JSON record'):
    read_metrics(str(path))
