"""Data sources: `build_source(config.dataset, ...)` gives local numpy batches for this process.

Every source implements the Source contract of source.py (detection sources DetectionSource):
num_classes, image_shape, num_eval_examples, normalisation, train_batches(start_step) (infinite,
resumable) and eval_batches() (masked; each eval example exactly once), and the rest.
"""

import functools
import importlib.util
import os

import numpy as np

from vision_jax.data.batching import Batch
from vision_jax.data.digit_domains import digit_domains_source
from vision_jax.data.digit_scenes import digit_scenes_source
from vision_jax.data.digits import digits_source
from vision_jax.data.faces import faces_source
from vision_jax.data.images import content_image_source, photos_source
from vision_jax.data.unpaired import UnpairedSource
from vision_jax.errors import UserError

BUNDLED = {'digits': digits_source, 'lfw_faces': faces_source, 'digit_domains': digit_domains_source,
           'content_image': content_image_source, 'photos': photos_source}


def host_memory_bytes() -> int:
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')


def check_batches_fit(source, global_batch_size: int, eval_batch_size: int, process_count: int):
  """`source`, or a UserError when one process's train or eval batch of its float32 images alone would
  exceed this machine's memory (a typo's batch_size=10**9 would otherwise run the host out of memory)."""
  image_bytes, available = 4 * int(np.prod(source.image_shape)), host_memory_bytes()
  for key, size in (('batch_size', global_batch_size), ('eval_batch_size', eval_batch_size)):
    needed = size // max(process_count, 1) * image_bytes
    if needed > available:
      raise UserError(f'config.{key} = {size} needs {needed / 2**30:.1f} GiB per process for its '
                      f'{"x".join(map(str, source.image_shape))} images, more than this machine\'s '
                      f'{available / 2**30:.1f} GiB')
  return source


def build_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                 process_index: int = 0, process_count: int = 1):
  """check_batches_fit(the source of config.name, ...): see select_source."""
  source = select_source(config, global_batch_size, eval_batch_size, seed, process_index, process_count)
  return check_batches_fit(source, global_batch_size, eval_batch_size, process_count)


def select_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                  process_index: int = 0, process_count: int = 1):
  """A bundled source by name, 'image_folder' (class folders on disk) or 'image_pairs' (pix2pix's
  A|B files), otherwise the TFDS dataset of that name; with dataset.b_train_split
  (CycleGAN's TFDS data) the same dataset read twice, A's splits and B's, as one unpaired source."""
  if config.name in BUNDLED:
    return BUNDLED[config.name](config, global_batch_size, eval_batch_size, seed,
                                process_index, process_count)
  if config.name in ('image_folder', 'image_pairs'):
    from vision_jax.data import file_sources  # deferred: TensorFlow only for tf.data sources
    source = file_sources.ImageFolderSource if config.name == 'image_folder' else file_sources.ImagePairsSource
    return source(config, global_batch_size, eval_batch_size, seed, process_index, process_count)
  from vision_jax.data.tfds_source import TfdsSource  # deferred: TensorFlow only for TFDS data
  source = functools.partial(TfdsSource, global_batch_size=global_batch_size, eval_batch_size=eval_batch_size,
                             seed=seed, process_index=process_index, process_count=process_count)
  if not config.get('b_train_split'):
    return source(config)
  b_config = config.copy_and_resolve_references()
  b_config.train_split, b_config.eval_split = config.b_train_split, config.get('b_eval_split') or config.eval_split
  return UnpairedSource(source(config), source(b_config, seed=seed + 1))  # B's order is its own


DETECTION_BUNDLED = {'digit_scenes': digit_scenes_source}
DETECTION_FILES = ('coco_json', 'voc_folder')


def build_detection_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                           process_index: int = 0, process_count: int = 1):
  """check_batches_fit(the detection source of config.name, ...): see select_detection_source."""
  source = select_detection_source(config, global_batch_size, eval_batch_size, seed, process_index, process_count)
  return check_batches_fit(source, global_batch_size, eval_batch_size, process_count)


def select_detection_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                            process_index: int = 0, process_count: int = 1):
  """A detection source: batches with image, boxes (B, G, 4) normalised, labels, box_valid;
  bundled digit_scenes, your files ('coco_json', 'voc_folder'), otherwise a TFDS detection dataset
  (voc/2007, voc/2012, coco/2017)."""
  if config.name in DETECTION_BUNDLED:
    return DETECTION_BUNDLED[config.name](config, global_batch_size, eval_batch_size, seed,
                                          process_index, process_count)
  if config.name in DETECTION_FILES:
    from vision_jax.data.file_sources import FileDetectionSource  # deferred: TensorFlow
    return FileDetectionSource(config, global_batch_size, eval_batch_size, seed, process_index, process_count)
  from vision_jax.data.tfds_detection import TfdsDetectionSource  # deferred: TensorFlow
  return TfdsDetectionSource(config, global_batch_size, eval_batch_size, seed, process_index, process_count)


# The dataset keys each source reads besides `name` (tests/data/test_source_keys.py records what every
# source reads against these). An override of any other dataset key would have no effect on the chosen
# source, so the launch refuses it (config_rules.override_problem).
_TFDS = ('data_dir', 'train_split', 'eval_split', 'shuffle_buffer')
_FILES = ('check_images', 'skip_bad', 'cache')
_CLASSIFICATION_INPUT = ('image_size', 'mean', 'std', 'augment', 'crop_padding', 'eval_preprocess', 'crop_fraction')
_DETECTION_INPUT = ('image_size', 'mean', 'std', 'resize', 'min_size', 'max_size', 'max_boxes', 'augment', 'brightness',
                    'gamma', 'hsv', 'mosaic', 'close_mosaic_step', 'scale', 'translate')
_ARRAYS = ('image_size', 'mean', 'std', 'channels', 'examples_per_class', 'max_shift')
SOURCE_KEYS = {
    'digits': _ARRAYS,
    'lfw_faces': _ARRAYS,
    'digit_domains': ('mean', 'std', 'domain', 'a_channels', 'max_shift'),
    'content_image': ('image_size', 'mean', 'std', 'image'),
    'photos': ('image_size', 'mean', 'std', 'eval_photos'),
    'image_folder': _FILES + _CLASSIFICATION_INPUT + ('channels', 'train_dir', 'eval_dir', 'label_key'),
    'image_pairs': _FILES + ('image_size', 'mean', 'std', 'channels', 'augment', 'load_size', 'direction', 'train_dir',
                             'eval_dir'),
    'tfds': _TFDS + _CLASSIFICATION_INPUT + ('label_key', 'b_train_split', 'b_eval_split'),
    'digit_scenes': ('mean', 'std', 'channels', 'augment', 'brightness', 'gamma', 'value_gain', 'mosaic',
                     'background_level', 'num_test_scenes'),
    'coco_json': _FILES + _DETECTION_INPUT + ('channels', 'train_annotations', 'eval_annotations', 'image_dir'),
    'voc_folder': _FILES + _DETECTION_INPUT + ('channels', 'root', 'train_list', 'eval_list', 'class_names'),
    'tfds_detection': _TFDS + _DETECTION_INPUT + ('train_sources',),
}


def source_kind(config, detection: bool) -> str:
  """Which SOURCE_KEYS entry reads config (config.dataset): its name, or 'tfds'/'tfds_detection'."""
  if config.name in (DETECTION_BUNDLED if detection else BUNDLED) or config.name in (
      DETECTION_FILES if detection else ('image_folder', 'image_pairs')):
    return config.name
  return 'tfds_detection' if detection else 'tfds'


def hide_gpus_from_tensorflow() -> None:
  """Hides accelerators from TensorFlow when it is installed (the GPU machine may lack it)."""
  if importlib.util.find_spec('tensorflow') is not None:
    from vision_jax.data.tfds_source import hide_gpus_from_tensorflow as hide  # deferred: TensorFlow
    hide()
