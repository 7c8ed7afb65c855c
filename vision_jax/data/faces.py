"""Bundled, offline, real data: scikit-image's lfw_subset, 100 25x25 grey faces (Labeled Faces in
the Wild) and 100 non-face patches; class 0 = non-face, 1 = face. Fixed stratified 140/60 split."""

import functools

import numpy as np
from skimage.data import lfw_subset

from vision_jax.data.arrays import array_source, select_split

NUM_TEST = 60
CLASS_NAMES = ('non-face', 'face')


@functools.lru_cache(maxsize=8)
def load_faces_split(split: str, image_size: int = 25, channels: int = 1, per_class: int = 0,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(images NHWC float32 in [0, 1], labels int32) for split 'train' or 'test'; see select_split."""
  images = lfw_subset()  # faces first, then non-faces
  labels = (np.arange(len(images)) < len(images) // 2).astype(np.int32)
  return select_split('lfw_faces', images[..., None], labels, split, NUM_TEST, image_size, channels,
                      per_class, seed)


def faces_source(config, global_batch_size, eval_batch_size, seed, process_index, process_count):
  """The bundled lfw_subset faces vs non-faces at `config.image_size` (default 25), as an ArraySource."""
  return array_source(load_faces_split, 2, config, global_batch_size, eval_batch_size, seed,
                      process_index, process_count)
