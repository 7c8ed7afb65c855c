"""Data sources: `build_source(config.dataset, ...)` gives local numpy batches for this process.

Every source exposes num_classes, image_shape, num_eval_examples, train_batches(start_step)
(infinite, resumable) and eval_batches() (masked; each eval example exactly once).
"""

import importlib.util

from vision_jax.data.batching import Batch
from vision_jax.data.digit_domains import digit_domains_source
from vision_jax.data.digit_scenes import digit_scenes_source
from vision_jax.data.digits import digits_source
from vision_jax.data.faces import faces_source

BUNDLED = {'digits': digits_source, 'lfw_faces': faces_source, 'digit_domains': digit_domains_source}


def build_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                 process_index: int = 0, process_count: int = 1):
  """A bundled source by name, otherwise the TFDS dataset of that name."""
  if config.name in BUNDLED:
    return BUNDLED[config.name](config, global_batch_size, eval_batch_size, seed,
                                process_index, process_count)
  from vision_jax.data.tfds_source import TfdsSource  # deferred: TensorFlow only for TFDS data
  return TfdsSource(config, global_batch_size, eval_batch_size, seed, process_index, process_count)


DETECTION_BUNDLED = {'digit_scenes': digit_scenes_source}


def build_detection_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                           process_index: int = 0, process_count: int = 1):
  """A detection source: batches with image, boxes (B, G, 4) normalised, labels, box_valid;
  bundled digit_scenes, otherwise a TFDS detection dataset (voc/2007, voc/2012, coco/2017)."""
  if config.name in DETECTION_BUNDLED:
    return DETECTION_BUNDLED[config.name](config, global_batch_size, eval_batch_size, seed,
                                          process_index, process_count)
  from vision_jax.data.tfds_detection import TfdsDetectionSource  # deferred: TensorFlow
  return TfdsDetectionSource(config, global_batch_size, eval_batch_size, seed, process_index, process_count)


def hide_gpus_from_tensorflow() -> None:
  """Hides accelerators from TensorFlow when it is installed (the GPU machine may lack it)."""
  if importlib.util.find_spec('tensorflow') is not None:
    from vision_jax.data.tfds_source import hide_gpus_from_tensorflow as hide  # deferred: TensorFlow
    hide()
