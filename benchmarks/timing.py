"""Shared measurement helpers: timed steps after warm-up, their median, and process memory."""

import resource
import statistics
import time
from typing import Callable


def time_steps(step: Callable[[], None], warmup: int, steps: int) -> list[float]:
  """Seconds of each of `steps` calls of step() (which must block until its work is done), after
  `warmup` untimed calls."""
  for _ in range(warmup):
    step()
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  return times


def throughput(batch: int, times: list[float]) -> dict:
  """Images/s from the median step time, with the spread of the timed steps."""
  median = statistics.median(times)
  return {'images_per_sec': batch / median, 'median_step_ms': 1000 * median,
          'min_step_ms': 1000 * min(times), 'max_step_ms': 1000 * max(times), 'timed_steps': len(times)}


def peak_rss_mb() -> float:
  """The process's peak resident memory so far (Linux reports KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measurement(command: list[str], env: dict, cwd: str, timeout: int) -> dict:
  """Runs a measuring subprocess that prints one JSON line; a crash, timeout or error becomes
  {'error': what happened} (a signal by name, else the last line of stderr)."""
  import json
  import signal
  import subprocess
  try:
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
  except subprocess.TimeoutExpired:
    return {'error': f'timed out after {timeout} s'}
  lines = [line for line in done.stdout.splitlines() if line.startswith('{')]
  if done.returncode < 0:
    return {'error': f'crashed with {signal.Signals(-done.returncode).name}'}
  if done.returncode or not lines:
    fatal = [line for line in done.stderr.splitlines() if 'Fatal Python error' in line or 'Error' in line]
    return {'error': ((fatal or done.stderr.strip().splitlines() or ['no output'])[-1])[:300]}
  return json.loads(lines[-1])
