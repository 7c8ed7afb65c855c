"""Preemption notices: on SIGTERM (what SLURM and cloud TPUs send before a kill) the loop saves a
checkpoint at the next step boundary, on all processes at the same step, and the run stops with
PREEMPTED_EXIT_STATUS; relaunching the same command continues exactly from that checkpoint."""

import signal
import threading

import jax
from absl import logging
from jax.experimental import multihost_utils

PREEMPTED_EXIT_STATUS = 75  # EX_TEMPFAIL: "try again later"; schedulers may requeue on it


class Preempted(Exception):
  """Raised by the loop after the preemption checkpoint is written."""

  def __init__(self, step: int, checkpoint_dir: str):
    super().__init__(f'stopped on SIGTERM at step {step}, after saving {checkpoint_dir}/{step}: '
                     'relaunch the same command to continue')
    self.step = step


class PreemptionNotice:
  """Whether a SIGTERM asks the run to stop at `step`. One process: our own handler sets a flag.
  Several: JAX's preemption service catches SIGTERM on any of them and names one step for all."""

  def __init__(self):
    self.shared = jax.process_count() > 1
    self.received = False
    self._previous = None
    if not self.shared and threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

  def _on_sigterm(self, signum, frame) -> None:
    del signum, frame
    self.received = True
    logging.warning('SIGTERM: saving a checkpoint at the next step boundary, then stopping')

  def reached(self, step: int) -> bool:
    """True at the step the run should save and stop at."""
    if self.shared:
      return multihost_utils.reached_preemption_sync_point(step)
    return self.received

  def __enter__(self) -> 'PreemptionNotice':
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()

  def close(self) -> None:
    """Gives SIGTERM back its earlier handler."""
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
      self._previous = None
