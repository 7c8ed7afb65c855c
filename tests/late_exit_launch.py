"""Runs launch.py with every process but the coordinator reaching jax.distributed.shutdown 1 s late,
as a worker still finishing its checkpoint would: the coordinator must not stop the service under it.

  python tests/late_exit_launch.py --config=... --workdir=DIR --coordinator_address=... ...
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
from absl import app  # noqa: E402

import launch  # noqa: E402

LATE_S = 1.0
_shutdown = jax.distributed.shutdown


def late_shutdown() -> None:
  if jax.process_index() != 0:
    time.sleep(LATE_S)
  _shutdown()


if __name__ == '__main__':
  jax.distributed.shutdown = late_shutdown
  launch.launching.quiet_third_party_logs()
  app.run(launch.main, flags_parser=launch.launching.parse_flags)
