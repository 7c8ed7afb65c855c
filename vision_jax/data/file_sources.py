"""tf.data sources over your own files (layouts read and validated in own_data.py):

- 'image_folder' (classification): dataset.train_dir and dataset.eval_dir, one subfolder per class.
- 'image_pairs' (pix2pix): dataset.train_dir and dataset.eval_dir of images holding A (left half) and
  B (right half) side by side, as pix2pix's own datasets (facades, maps, edges2shoes) ship.
- 'coco_json' (detection): dataset.train_annotations, dataset.eval_annotations, optional dataset.image_dir.
- 'voc_folder' (detection): dataset.root with Annotations/, JPEGImages/, ImageSets/Main/<list>.txt
  (dataset.train_list, dataset.eval_list: VOC's 'trainval' and 'test' by default).

The files are listed once and sharded per process (train: every process_count-th file; eval:
contiguous parts) before any decoding. Train: a seeded shuffle of the whole list each epoch,
repeat, a resumable skip, then read + decode + the same augmentation and preprocessing as TFDS data,
in parallel. dataset.cache=True keeps the decoded images in memory (small sets). JPEG, PNG, BMP and
GIF (first frame) decode to dataset.channels (grey repeated, alpha dropped, colour to grey by luma).
"""

import functools
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf

from vision_jax.data.batching import Batch, normalisation_problem
from vision_jax.data import augment as aug
from vision_jax.data.own_data import (DetectionSet, class_folders, image_sizes, read_coco_json, read_image_files,
                                      read_image_folder, read_voc_folder, resolve, voc_class_names)
from vision_jax.data.tfds_detection import DetectionPipeline
from vision_jax.data.source import Source
from vision_jax.data.tfds_source import (parallel_map, preprocess_fn, check_preprocessing, eval_pipeline,
                                         hide_gpus_from_tensorflow, train_pipeline)
from vision_jax.errors import UserError

CHECKS = ('decode', 'header')


def read_image(path, channels: int):
  """An image file as uint8 (H, W, channels)."""
  image = tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False)
  image = tf.cond(tf.shape(image)[-1] >= 3, lambda: image[..., :3],
                  lambda: tf.repeat(image[..., :1], 3, axis=-1))
  image.set_shape((None, None, 3))
  if channels == 1:
    return tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), tf.uint8)
  return image


def decode_check(config) -> bool:
  """dataset.check_images: 'decode' (default: every image fully decoded at start-up, finds corrupt
  data) or 'header' (sizes only; fast for large folders, corrupt data then fails in training)."""
  check = config.get('check_images', 'decode')
  if check not in CHECKS:
    raise UserError(f'unknown dataset.check_images {check!r}; choose one of: {", ".join(CHECKS)}')
  return check == 'decode'


def train_shard(items: list, process_index: int, process_count: int) -> list:
  """Every process_count-th item from process_index: each process trains on its own files."""
  return items[process_index::process_count]


def eval_shards(items: list, process_count: int) -> list[list]:
  """Contiguous parts of the eval items, one per process, sizes differing by at most one."""
  bounds = np.linspace(0, len(items), process_count + 1).round().astype(int)
  return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def naming_undecodable(batches: Iterator[Batch], paths: Sequence[str], what: str) -> Iterator[Batch]:
  """batches, except that an image failing to decode mid-run (its pixels damaged: the start-up check
  'header' reads headers only) stops with one line naming it, not a TensorFlow traceback."""
  try:
    yield from batches
  except (tf.errors.InvalidArgumentError, tf.errors.DataLossError):
    bad = [f'{path}: {size}' for path, size in zip(paths, image_sizes(list(paths), decode=True)) if isinstance(size, str)]
    if not bad:
      raise
    raise UserError(f'{what}: {len(bad)} image(s) failed to decode while training ({bad[0]}'
                    f'{", ..." if len(bad) > 1 else ""}); dataset.check_images=\'header\' reads headers only: fix or '
                    "remove them, or relaunch with check_images='decode' (and skip_bad=True to train on the rest)") from None


def cached(ds, decode, cache: bool):
  """(examples, decode): with dataset.cache the images are decoded once and kept in memory."""
  if not cache:
    return ds, decode
  return parallel_map(ds, decode).cache(), lambda example: example


class ImageFolderSource(Source):
  """Classification from class folders; class_names[i] is label i (the sorted train subfolders)."""

  def __init__(self, config, global_batch_size: int, eval_batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    hide_gpus_from_tensorflow()
    check_preprocessing(config)
    self.config, self.seed = config, seed
    channels, size = checked_shape(config)
    self.mean = np.asarray(config.get('mean', 0.5), np.float32)
    self.std = np.asarray(config.get('std', 0.5), np.float32)
    self.image_shape = (size, size, channels)
    self.class_names = class_folders(config.get('train_dir', ''), 'train_dir')
    self.num_classes = len(self.class_names)
    decode = decode_check(config)
    train = read_image_folder(config.train_dir, 'train_dir', self.class_names, decode)
    evals = read_image_folder(config.get('eval_dir', ''), 'eval_dir', self.class_names, decode)
    resolve(train[2] + evals[2], config.get('skip_bad', False), 'image_folder')
    for files, key in ((train[0], 'train_dir'), (evals[0], 'eval_dir')):
      if not files:
        raise UserError(f'dataset.{key} {config[key]} holds no readable images')
    self.num_train_examples = len(train[0])
    self.local_batch_size = global_batch_size // process_count
    self.local_eval_batch_size = eval_batch_size // process_count
    self._train = [train_shard(part, process_index, process_count) for part in train[:2]]
    self._eval = eval_shards(list(zip(*evals[:2])), process_count)[process_index]
    self._eval_max = max(len(part) for part in eval_shards(evals[0], process_count))
    self.num_eval_examples = len(evals[0])

  def _decode(self, example):
    return {'image': read_image(example['path'], self.image_shape[-1]), 'label': example['label']}

  def _examples(self, paths, labels):
    return tf.data.Dataset.from_tensor_slices({'path': list(paths), 'label': np.asarray(labels, np.int32)})

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    """Local train batches from global step `start_step` on, forever."""
    examples, decode = cached(self._examples(*self._train), self._decode, self.config.get('cache', False))
    preprocess = preprocess_fn(self.config, self.image_shape[0], train=True, seed=self.seed)
    return naming_undecodable(train_pipeline(examples, preprocess, self.local_batch_size, start_step,
                                             len(self._train[0]), self.seed, decode), self._train[0], 'image_folder')

  def eval_batches(self) -> Iterator[Batch]:
    """Masked local eval batches; every process yields the same number of them."""
    paths, labels = zip(*self._eval) if self._eval else ((), ())
    preprocess = preprocess_fn(self.config, self.image_shape[0], train=False, seed=self.seed)
    return naming_undecodable(eval_pipeline(self._examples(paths, labels), preprocess, self.local_eval_batch_size,
                                            -(-self._eval_max // self.local_eval_batch_size), self._decode),
                              paths, 'image_folder')


PAIR_AUGMENTATIONS = ('none', 'jitter')
DIRECTIONS = ('AtoB', 'BtoA')


def pair_preprocess_fn(config, size: int, channels: int, train: bool, seed: int, mean, std):
  """(index, {'image': A|B side by side}) -> {'image': A, 'target': B, 'label'}, normalised. Train with
  augment 'jitter' (pix2pix's random jitter): both halves resized to dataset.load_size (286), the
  same random image_size crop and flip; otherwise resized to image_size. direction 'BtoA' swaps them."""
  jitter = train and config.get('augment', 'none') == 'jitter'
  load_size = config.get('load_size', 286)

  def fn(index, example):
    image = tf.cast(example['image'], tf.float32) / 255.0
    half = tf.shape(image)[1] // 2
    a, b = image[:, :half], image[:, half:2 * half]
    if config.get('direction', 'AtoB') == 'BtoA':
      a, b = b, a
    both = tf.concat([a, b], axis=-1)
    key = tf.stack([tf.constant(seed, tf.int64), index])
    if jitter:
      both = tf.image.stateless_random_crop(tf.image.resize(both, (load_size, load_size)), (size, size, 2 * channels),
                                            seed=key)
      both = aug.random_flip(both, key + 1)
    else:
      both = tf.image.resize(both, (size, size))
    both.set_shape((size, size, 2 * channels))
    return {'image': (both[..., :channels] - mean) / std, 'target': (both[..., channels:] - mean) / std,
            'label': tf.constant(0, tf.int32)}
  return fn


class ImagePairsSource(Source):
  """Paired images for pix2pix from A|B files; batches hold 'image' (A), 'target' (B) and label 0."""

  num_classes = 1

  def __init__(self, config, global_batch_size: int, eval_batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    hide_gpus_from_tensorflow()
    if config.get('augment', 'none') not in PAIR_AUGMENTATIONS:
      raise UserError(f'unknown dataset.augment {config.augment!r} for image_pairs; choose one of: '
                      f'{", ".join(PAIR_AUGMENTATIONS)}')
    if config.get('direction', 'AtoB') not in DIRECTIONS:
      raise UserError(f'unknown dataset.direction {config.direction!r}; choose one of: {", ".join(DIRECTIONS)}')
    self.config, self.seed = config, seed
    channels, size = checked_shape(config)
    self.mean = np.asarray(config.get('mean', 0.5), np.float32)
    self.std = np.asarray(config.get('std', 0.5), np.float32)
    self.image_shape = (size, size, channels)
    decode = decode_check(config)
    train, problems = read_image_files(config.get('train_dir', ''), 'train_dir', decode)
    evals, more = read_image_files(config.get('eval_dir', ''), 'eval_dir', decode)
    resolve(problems + more, config.get('skip_bad', False), 'image_pairs')
    self.num_train_examples, self.num_eval_examples = len(train), len(evals)
    self.local_batch_size = global_batch_size // process_count
    self.local_eval_batch_size = eval_batch_size // process_count
    self._train = train_shard(train, process_index, process_count)
    self._eval = eval_shards(evals, process_count)[process_index]
    self._eval_max = max(len(part) for part in eval_shards(evals, process_count))

  def _decode(self, example):
    return {'image': read_image(example['path'], self.image_shape[-1])}

  def _preprocess(self, train: bool):
    return pair_preprocess_fn(self.config, self.image_shape[0], self.image_shape[-1], train, self.seed,
                              self.mean, self.std)

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    examples = tf.data.Dataset.from_tensor_slices({'path': tf.constant(self._train, tf.string)})
    examples, decode = cached(examples, self._decode, self.config.get('cache', False))
    return naming_undecodable(train_pipeline(examples, self._preprocess(True), self.local_batch_size, start_step,
                                             len(self._train), self.seed, decode), self._train, 'image_pairs')

  def eval_batches(self) -> Iterator[Batch]:
    examples = tf.data.Dataset.from_tensor_slices({'path': tf.constant(self._eval, tf.string)})
    return naming_undecodable(eval_pipeline(examples, self._preprocess(False), self.local_eval_batch_size,
                                            -(-self._eval_max // self.local_eval_batch_size), self._decode),
                              self._eval, 'image_pairs')


def checked_shape(config) -> tuple[int, int]:
  """(channels, image_size) of a file source's config, with one line for what is wrong."""
  channels = config.get('channels', 3)
  if channels not in (1, 3):
    raise UserError(f'dataset.channels must be 1 or 3, not {channels}')
  size = config.get('image_size', 0)
  if not size:
    raise UserError(f'dataset.image_size is not set: {config.name} images are resized to image_size x image_size')
  problem = normalisation_problem(config.get('mean', 0.5), config.get('std', 0.5), channels)
  if problem:
    raise UserError(problem)
  return channels, size


def records_dataset(records: list) -> tf.data.Dataset:
  """Detection records as examples: path, ragged boxes/labels/difficult/area, image_id."""
  lengths = [len(r.labels) for r in records]

  def ragged(field: str, dtype, shape=()):
    values = np.concatenate([np.asarray(getattr(r, field), dtype).reshape((-1,) + shape) for r in records]
                            + [np.zeros((0,) + shape, dtype)])
    return tf.RaggedTensor.from_row_lengths(values, np.asarray(lengths, np.int64))
  return tf.data.Dataset.from_tensor_slices({
      'path': tf.constant([r.path for r in records], tf.string),
      'boxes': ragged('boxes', np.float32, (4,)), 'labels': ragged('labels', np.int32),
      'difficult': ragged('crowd', bool), 'area': ragged('area', np.float32),
      'image_id': np.asarray([r.image_id for r in records], np.int64)})


def decode_record(example, channels: int = 3):
  """A record example with its image read (RGB or grey) and image_hw."""
  example = dict(example)
  image = read_image(example.pop('path'), channels)
  shape = tf.shape(image)
  return {**example, 'image': image, 'image_hw': tf.stack([shape[0], shape[1]])}


class FileDetectionSource(DetectionPipeline):
  """Detection from a COCO-style JSON or a VOC folder, through the TFDS detection pipeline's
  augmentation and evaluation; see the module docstring."""

  def __init__(self, config, global_batch_size: int, eval_batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    hide_gpus_from_tensorflow()
    channels, _ = checked_shape(config)
    train, evals = (coco_sets if config.name == 'coco_json' else voc_sets)(config)
    self._setup(config, train.class_names, global_batch_size, eval_batch_size, seed, process_index, process_count,
                train.category_ids, channels)
    self._decode_record = functools.partial(decode_record, channels=channels)
    self.coco_ground_truth = evals.coco_ground_truth
    self.num_train_examples = len(train.records)
    self._train_records = train_shard(train.records, process_index, process_count)
    shards = eval_shards(evals.records, process_count)
    self._eval_records = shards[process_index]
    self._eval_counts = np.array([len(s) for s in shards])
    self.num_eval_examples = len(evals.records)

  def _decode(self, example):
    return example if 'image' in example else self._decode_record(example)

  def _train_dataset(self):
    examples, _ = cached(records_dataset(self._train_records), self._decode_record, self.config.get('cache', False))
    return examples.shuffle(len(self._train_records), seed=self.seed, reshuffle_each_iteration=True)

  def _eval_dataset(self):
    return records_dataset(self._eval_records)

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    return naming_undecodable(super().train_batches(start_step), [r.path for r in self._train_records],
                              self.config.name)

  def eval_batches(self) -> Iterator[Batch]:
    return naming_undecodable(super().eval_batches(), [r.path for r in self._eval_records], self.config.name)


def coco_sets(config) -> tuple[DetectionSet, DetectionSet]:
  """(train, eval) of dataset.train_annotations and dataset.eval_annotations; eval uses train's labels."""
  decode, skip = decode_check(config), config.get('skip_bad', False)
  train, problems = read_coco_json(config.get('train_annotations', ''), 'train_annotations',
                                   config.get('image_dir', ''), decode)
  evals, more = read_coco_json(config.get('eval_annotations', ''), 'eval_annotations', config.get('image_dir', ''),
                               decode, category_ids=train.category_ids)
  resolve(problems + more, skip, 'coco_json')
  return nonempty(train, 'train_annotations', config), nonempty(evals, 'eval_annotations', config)


def voc_sets(config) -> tuple[DetectionSet, DetectionSet]:
  """(train, eval) of dataset.root's train_list and eval_list, with one class list."""
  root, decode = config.get('root', ''), decode_check(config)
  train_list, eval_list = config.get('train_list', 'trainval'), config.get('eval_list', 'test')
  names = voc_class_names(root, (train_list, eval_list), tuple(config.get('class_names', ())))
  train, problems = read_voc_folder(root, train_list, names, decode)
  evals, more = read_voc_folder(root, eval_list, names, decode)
  resolve(problems + more, config.get('skip_bad', False), 'voc_folder')
  return nonempty(train, 'train_list', config), nonempty(evals, 'eval_list', config)


def nonempty(data: DetectionSet, key: str, config) -> DetectionSet:
  if not data.records:
    raise UserError(f'dataset.{key} {config.get(key)} holds no readable images')
  return data
