"""Bundled, offline, real data: scikit-learn's 1,797 handwritten 8x8 digits (UCI optdigits test set).

The split is fixed (seeded and stratified: 1,437 train / 360 test) so results compare
across runs and machines. The train stream is a pure function of (seed, step), so a
resumed run sees exactly the batches an uninterrupted one would.
"""

import functools

import numpy as np
from sklearn.datasets import load_digits

from vision_jax.data.arrays import array_source, select_split

NUM_TEST = 360


@functools.lru_cache(maxsize=8)
def load_digits_split(split: str, image_size: int = 8, channels: int = 1, per_class: int = 0,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(images NHWC float32 in [0, 1], labels int32) for split 'train' or 'test'; see select_split."""
  data = load_digits()
  return select_split('digits', data.images[..., None] / 16.0, data.target, split, NUM_TEST,
                      image_size, channels, per_class, seed)


def digits_source(config, global_batch_size, eval_batch_size, seed, process_index, process_count):
  """The bundled digits dataset at `config.image_size` (default 8), as an ArraySource."""
  return array_source(load_digits_split, 10, config, global_batch_size, eval_batch_size, seed,
                      process_index, process_count)
