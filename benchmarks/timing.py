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
