"""Batch helpers shared by all sources: eval padding with masks, per-process slicing."""

import math
from typing import Iterator, Optional

import numpy as np

Batch = dict[str, np.ndarray]


def normalisation_problem(mean, std, channels: int) -> Optional[str]:
  """What is wrong with a per-channel mean/std for images of `channels` channels (None: nothing):
  each must hold one value for all channels or one per channel."""
  for name, values in (('mean', mean), ('std', std)):
    length = len(values) if isinstance(values, (list, tuple)) else 1
    if length not in (1, channels):
      return (f'config.dataset.{name} has {length} values for {channels}-channel images: give 1 value '
              f'or {channels}')
  return None


def num_batches(num_examples: int, batch_size: int) -> int:
  """Batches needed to see every example once, the last one padded."""
  return max(1, math.ceil(num_examples / batch_size))


def pad_batch(batch: Batch, batch_size: int) -> Batch:
  """Pads every array to `batch_size` rows and adds `mask` (1 = real example, 0 = padding)."""
  n = len(next(iter(batch.values())))
  padded = {k: np.concatenate([v, np.zeros((batch_size - n,) + v.shape[1:], v.dtype)])
            for k, v in batch.items()}
  padded['mask'] = (np.arange(batch_size) < n).astype(np.float32)
  return padded


def padded_batches(examples: Iterator[Batch], batch_size: int, count: int) -> Iterator[Batch]:
  """Yields exactly `count` masked batches from an iterator of (possibly short) batches.

  Every process must run the same number of eval steps, so sources that run out
  early are filled with all-padding batches built from the last real one.
  """
  template = None
  for _ in range(count):
    batch = next(examples, None)
    if batch is None:
      if template is None:
        raise ValueError('eval split is empty on this process')
      batch = {k: v[:0] for k, v in template.items()}
    template = batch
    yield pad_batch(batch, batch_size)


def process_slice(global_batch: Batch, process_index: int, process_count: int) -> Batch:
  """This process's contiguous share of a global batch (the rows its devices hold)."""
  n = len(next(iter(global_batch.values())))
  local = n // process_count
  return {k: v[process_index * local:(process_index + 1) * local] for k, v in global_batch.items()}
