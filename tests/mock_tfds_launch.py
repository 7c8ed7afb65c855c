"""Runs launch.py under tfds.testing.mock_data: the real TFDS code path, with random examples.

  python tests/mock_tfds_launch.py --config=configs/mnist_lenet.py:smoke --workdir=DIR
(TFDS datasets cannot be downloaded on the test machines.)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow_datasets as tfds  # noqa: E402
from absl import app  # noqa: E402

import launch  # noqa: E402

if __name__ == '__main__':
  launch.launching.quiet_third_party_logs()
  with tfds.testing.mock_data(num_examples=int(os.environ.get('MOCK_NUM_EXAMPLES', '48'))):
    app.run(launch.main, flags_parser=launch.launching.parse_flags)
