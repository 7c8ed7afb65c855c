"""A tf.data source for any TFDS image-classification dataset (the only module that imports TF).

Train: per-process shard of the split, seeded file and example shuffling, repeat,
decode + preprocess, batch, prefetch. The stream is deterministic for a seed, so a
resumed run skips the records already consumed (before decoding) and continues
exactly where the checkpoint left off. Eval: this process's shard, padded and masked.
"""

import os
from typing import Iterator

from jax.experimental import multihost_utils
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from vision_jax.data import augment as aug
from vision_jax.data.eval_inputs import classification_input, resize_square
from vision_jax.data.batching import Batch, normalisation_problem, padded_batches
from vision_jax.data.source import Source
from vision_jax.errors import UserError


def hide_gpus_from_tensorflow() -> None:
  """Keeps tf.data on the host: TF must never take accelerator memory from JAX."""
  tf.config.set_visible_devices([], 'GPU')


def load_split(builder, split, shuffle: bool, seed: int):
  """builder.as_dataset, turning 'not prepared' into one actionable line."""
  try:
    return builder.as_dataset(split=split, shuffle_files=shuffle,
                              read_config=tfds.ReadConfig(shuffle_seed=seed, try_autocache=False))
  except AssertionError as e:
    if 'could not find data' not in str(e):
      raise
    raise UserError(
        f'TFDS dataset {builder.name!r} is not prepared in {builder.data_dir}: run '
        f'`tfds build {builder.name} --data_dir=DIR` where the internet is reachable, then copy DIR '
        f'here and set TFDS_DATA_DIR=DIR (or config.dataset.data_dir)') from None


def dataset_builder(config):
  """The TFDS builder of config.name; a name TFDS does not know or cannot parse is one UserError."""
  try:
    return tfds.builder(config.name, data_dir=config.get('data_dir') or None)
  except (tfds.core.registered.DatasetNotFoundError, ValueError):  # ValueError: not NAME[/CONFIG][:VERSION]
    raise UserError(f'unknown dataset {config.name!r}: neither bundled (digits, digit_scenes, ...), your '
                    'files (image_folder, image_pairs, coco_json, voc_folder) nor a TFDS dataset name') from None


def preprocess_fn(config, size: int, train: bool, seed: int):
  """Returns (index, example) -> {'image', 'label'}: scale to [0, 1], augment or resize, normalise.

  Train: dataset.augment is 'none' (resize), 'flip', 'crop_flip' (resize, pad-and-crop, flip),
  'inception_crop_flip' (random-resized crop to image_size, flip) or 'center_crop(_flip)' (as the
  eval center crop, for non-square photos such as CelebA's). Eval: dataset.eval_preprocess is
  'resize' or 'center_crop' (shorter side to image_size / crop_fraction, central crop).
  dataset.label_key = '' reads unlabelled images (every label 0).
  """
  augment = config.get('augment', 'none')
  evaluate = classification_input(config, size)
  pad = config.get('crop_padding', 4)
  label_key = config.get('label_key', 'label')

  def fn(index, example):
    label = tf.cast(example[label_key], tf.int32) if label_key else tf.constant(0, tf.int32)
    if not train:
      return {'image': evaluate(example['image']), 'label': label}
    image = tf.cast(example['image'], tf.float32) / 255.0
    # Stateless ops keyed by the example's stream index keep augmentation resumable.
    key = tf.stack([tf.constant(seed, tf.int64), index])
    if augment == 'inception_crop_flip':
      image = aug.inception_crop(image, size, key)
    elif augment.startswith('center_crop'):
      image = aug.resize_and_center_crop(image, size, config.get('crop_fraction', 0.875))
    else:
      image = resize_square(image, size)
    if augment == 'crop_flip':
      image = aug.pad_and_random_crop(image, pad, key)
    if augment.endswith('flip'):
      image = aug.random_flip(image, key + 1)
    image = aug.normalize(image, config.get('mean', 0.5), config.get('std', 0.5))
    return {'image': image, 'label': label}
  return fn


def eval_counts(builder, eval_split, seed: int, process_count: int) -> np.ndarray:
  """Eval examples on every process, so all processes run the same number of eval steps."""
  ds = load_split(builder, eval_split, shuffle=False, seed=seed)
  count = int(ds.cardinality())
  if count < 0:
    count = int(ds.reduce(np.int64(0), lambda n, _: n + 1))
  if process_count == 1:
    return np.array([count])
  return np.asarray(multihost_utils.process_allgather(np.array(count))).reshape(-1)


def parallel_map(ds, fn):
  """ds.map(fn) in parallel (in order: tf_options is deterministic), traced as written: our map
  functions hold no Python control flow on tensors, so AutoGraph's source conversion (seconds per
  pipeline) would buy nothing."""
  return ds.map(tf.autograph.experimental.do_not_convert(fn), num_parallel_calls=tf.data.AUTOTUNE)


def tf_options():
  options = tf.data.Options()
  options.deterministic = True
  options.threading.private_threadpool_size = max(1, os.cpu_count() or 1)
  return options


AUGMENTATIONS = ('none', 'flip', 'crop_flip', 'inception_crop_flip', 'center_crop', 'center_crop_flip')
EVAL_PREPROCESSING = ('resize', 'center_crop')


def check_preprocessing(config) -> None:
  """One line for an unknown dataset.augment or dataset.eval_preprocess."""
  if config.get('augment', 'none') not in AUGMENTATIONS:
    raise UserError(f'unknown dataset.augment {config.augment!r}; choose one of: {", ".join(AUGMENTATIONS)}')
  if config.get('eval_preprocess', 'resize') not in EVAL_PREPROCESSING:
    raise UserError(f'unknown dataset.eval_preprocess {config.eval_preprocess!r}; choose one of: '
                    f'{", ".join(EVAL_PREPROCESSING)}')


def identity(example):
  return example


def train_pipeline(examples, preprocess, local_batch_size: int, start_step: int, shuffle_buffer: int,
                   seed: int, decode=identity) -> Iterator[Batch]:
  """Seeded shuffle, repeat, a resumable skip of the examples already consumed (before decoding),
  decode + preprocess in parallel, batch, prefetch."""
  ds = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
  ds = ds.enumerate().skip(start_step * local_batch_size)
  ds = parallel_map(ds, lambda index, example: preprocess(index, decode(example)))
  ds = ds.batch(local_batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  return iter(tfds.as_numpy(ds.with_options(tf_options())))


def eval_pipeline(examples, preprocess, local_batch_size: int, num_batches: int, decode=identity) -> Iterator[Batch]:
  """num_batches masked batches of the examples in order (all-padding ones after the last)."""
  ds = parallel_map(examples.enumerate(), lambda index, example: preprocess(index, decode(example)))
  ds = ds.batch(local_batch_size).prefetch(tf.data.AUTOTUNE)
  return padded_batches(iter(tfds.as_numpy(ds.with_options(tf_options()))), local_batch_size, max(1, num_batches))


class TfdsSource(Source):
  """TFDS classification data for one process; see the module docstring."""

  def __init__(self, config, global_batch_size: int, eval_batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    hide_gpus_from_tensorflow()
    check_preprocessing(config)
    self.config, self.seed = config, seed
    # The normalisation the batches carry, for evaluators that map images back to pixels.
    self.mean = np.asarray(config.get('mean', 0.5), np.float32)
    self.std = np.asarray(config.get('std', 0.5), np.float32)
    self.builder = dataset_builder(config)
    features = self.builder.info.features
    label_key = config.get('label_key', 'label')
    if 'image' not in features or (label_key and label_key not in features):
      raise UserError(f'TFDS dataset {config.name!r} has no image/{label_key} features for classification'
                      + ('' if label_key != 'label' else "; set dataset.label_key = '' for unlabelled images"))
    self.num_classes = features[label_key].num_classes if label_key else 1
    shape = features['image'].shape
    size = config.get('image_size') or shape[0]
    if not size:
      raise UserError(f'TFDS dataset {config.name!r} has images of varying size: set dataset.image_size')
    self.image_shape = (size, size, shape[-1])
    problem = normalisation_problem(config.get('mean', 0.5), config.get('std', 0.5), shape[-1])
    if problem:
      raise UserError(f'{problem} (TFDS {config.name})')
    self.local_batch_size = global_batch_size // process_count
    self.local_eval_batch_size = eval_batch_size // process_count
    self.process_index, self.process_count = process_index, process_count
    self.train_split = tfds.even_splits(config.train_split, n=process_count)[process_index]
    self.eval_split = tfds.even_splits(config.eval_split, n=process_count,
                                       drop_remainder=False)[process_index]
    self._eval_counts = eval_counts(self.builder, self.eval_split, seed, process_count)
    self.num_eval_examples = int(sum(self._eval_counts))

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    """Local train batches from global step `start_step` on, forever."""
    examples = load_split(self.builder, self.train_split, shuffle=True, seed=self.seed)
    preprocess = preprocess_fn(self.config, self.image_shape[0], train=True, seed=self.seed)
    return train_pipeline(examples, preprocess, self.local_batch_size, start_step,
                          self.config.get('shuffle_buffer', 10_000), self.seed)

  def eval_batches(self) -> Iterator[Batch]:
    """Masked local eval batches; every process yields the same number of them."""
    examples = load_split(self.builder, self.eval_split, shuffle=False, seed=self.seed)
    preprocess = preprocess_fn(self.config, self.image_shape[0], train=False, seed=self.seed)
    return eval_pipeline(examples, preprocess, self.local_eval_batch_size,
                         -(-int(self._eval_counts.max()) // self.local_eval_batch_size))
