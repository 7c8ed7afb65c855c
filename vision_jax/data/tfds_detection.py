"""tf.data detection sources for TFDS voc/2007, voc/2012 and coco/2017 (boxes arrive normalised
[ymin, xmin, ymax, xmax]).

Train: the concatenated train sources (e.g. VOC07+12 trainval), seeded shuffle, repeat, resumable
skip, then config.augment's ops (SSD's: photometric, expand, min-IoU crop, resize, flip) with
stateless keys. config.resize: 'stretch' to the square input, or 'letterbox' (aspect kept, padded
bottom-right; detections map back to the original pixels). Ground truth is padded to `max_boxes`; an image with more keeps its largest boxes, and the
first such batch logs a warning. Eval: resize only, difficult (VOC) or crowd (COCO) boxes flagged,
padded and masked batches, with the image id and size that the COCO evaluator needs.
"""

from typing import Iterator

import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging

from vision_jax.data import box_augment as A
from vision_jax.data import yolo_augment as Y
from vision_jax.data.array_box_augment import augmentation_ops
from vision_jax.data.batching import Batch, normalisation_problem, padded_batches
from vision_jax.data.eval_inputs import detection_input, resize_to_input, resize_with_extent
from vision_jax.data.tfds_source import (dataset_builder, load_split, parallel_map, tf_options, eval_counts,
                                         hide_gpus_from_tensorflow)
from vision_jax.data.source import DetectionSource
from vision_jax.detection.boxes import RESIZE_MODES
from vision_jax.errors import UserError

YOLO_OPS = {'hsv', 'affine'}   # augment ops of yolo_train_fn (the others: ssd_train_fn)

# COCO's 80 category ids, in the order of TFDS coco/2017 labels 0..79.
COCO_CATEGORY_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27,
                     28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53,
                     54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80,
                     81, 82, 84, 85, 86, 87, 88, 89, 90)


def _flags(objects):
  """Per-box 'difficult' flags: VOC's is_difficult, COCO's is_crowd, else none."""
  for key in ('is_difficult', 'is_crowd'):
    if key in objects:
      return tf.cast(objects[key], tf.bool)
  return tf.zeros_like(objects['label'], tf.bool)


def pad_boxes(boxes, labels, valid, difficult, max_boxes: int, extra=()):
  """Fixed-size ground truth: the valid boxes first, largest first when there are too many;
  returns (boxes, labels, valid, difficult, *extra, number of valid boxes dropped), where `extra`
  are more per-box float tensors (padded with -1) that follow the same order."""
  area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  order = tf.argsort(tf.where(valid, area, -1.0), direction='DESCENDING')
  boxes, labels, valid, difficult = [tf.gather(t, order) for t in (boxes, labels, valid, difficult)]
  extra = [tf.gather(t, order) for t in extra]
  dropped = tf.reduce_sum(tf.cast(valid[max_boxes:], tf.int32))
  n = tf.shape(boxes)[0]
  pad = tf.maximum(max_boxes - n, 0)

  def fit(t, value):
    t = t[:max_boxes]
    return tf.pad(t, [[0, pad]] + [[0, 0]] * (len(t.shape) - 1), constant_values=value)
  out = (fit(boxes, 0.0), fit(tf.cast(labels, tf.int32), 0), fit(valid, False), fit(difficult, False),
         *(fit(tf.cast(t, tf.float32), -1.0) for t in extra))
  out[0].set_shape((max_boxes, 4))
  for t in out[1:]:
    t.set_shape((max_boxes,))
  return out + (dropped,)


def resize_mode(config):
  """config.resize as the box helpers take it: 'stretch', 'letterbox' or ('min_max', min_size, max_size)."""
  mode = config.get('resize', 'stretch')
  if mode not in RESIZE_MODES:
    raise UserError(f'unknown dataset.resize {mode!r}; choose one of: {", ".join(RESIZE_MODES)}')
  if mode != 'min_max':
    return mode
  min_size, max_size = config.get('min_size', 0), config.get('max_size', 0)
  if not 0 < min_size <= max_size <= config.image_size:
    raise UserError(f'dataset.resize min_max needs 0 < min_size ({min_size}) <= max_size ({max_size}) '
                    f'<= image_size ({config.image_size})')
  return ('min_max', min_size, max_size)


def ssd_train_fn(config, seed: int, mean, std, max_boxes: int):
  """(index, common example) -> a padded training example through config.augment's ops (see
  array_box_augment.AUGMENTATIONS; 'ssd': photometric distortion, expand, min-IoU crop, flip), resized
  and normalised."""
  size = config.image_size
  ops = augmentation_ops(config.get('augment', 'ssd'))

  def fn(index, ex):
    key = tf.stack([tf.constant(seed, tf.int64), index])
    image = tf.cast(ex['image'], tf.float32) / 255.0
    boxes, valid = A.sanitize_boxes(ex['boxes'], tf.ones_like(ex['labels'], tf.bool))
    valid &= ~ex['difficult']  # SSD trains without VOC's difficult and COCO's crowd boxes
    if 'photometric' in ops:
      image = A.photometric_distort(image, key, config.get('brightness', 32 / 255), config.get('gamma', 0.0))
    if 'expand' in ops or 'crop' in ops:
      image, boxes, valid = A.expand_crop_resize(image, boxes, valid, key + 10, size,
                                                 fill=tuple(float(m) for m in np.broadcast_to(mean, 3)))
    else:
      image, boxes = resize_to_input(image, boxes, size, resize_mode(config), mean)
    if 'flip' in ops:
      image, boxes = A.flip_with_boxes(image, boxes, key + 30)
    boxes, valid = A.sanitize_boxes(boxes, valid)
    boxes, labels, valid, difficult, dropped = pad_boxes(boxes, ex['labels'], valid, ex['difficult'], max_boxes)
    return {'image': (image - mean) / std, 'boxes': boxes, 'labels': labels, 'box_valid': valid,
            'dropped': dropped}
  return fn


def yolo_train_fn(config, seed: int, mean, std, max_boxes: int, local_batch_size: int):
  """(tile fn, group fn) of YOLO's augmentation (yolo_augment.py). The tile fn resizes one common
  example to the input (config.resize) with padded boxes; the group fn takes `group_size(config)`
  tiles and the output's index: a mosaic of four with probability config.mosaic until the training
  step config.close_mosaic_step (-1: never stops), else the first tile alone; then one random view
  (config.scale, config.translate), HSV gains (config.hsv) and a flip, as config.augment's ops say."""
  size, mode = config.image_size, resize_mode(config)
  ops = augmentation_ops(config.get('augment', 'yolo'))
  scale = config.get('scale', 0.5) if 'affine' in ops else 0.0
  translate = config.get('translate', 0.1) if 'affine' in ops else 0.0
  probability, close = config.get('mosaic', 0.0), config.get('close_mosaic_step', -1)
  fill = tuple(float(m) for m in np.broadcast_to(mean, 3))

  def tile(ex):
    image = tf.cast(ex['image'], tf.float32) / 255.0
    boxes, valid = A.sanitize_boxes(ex['boxes'], tf.ones_like(ex['labels'], tf.bool))
    image, boxes, extent = resize_with_extent(image, boxes, size, mode, mean)
    boxes, labels, valid, _, _ = pad_boxes(boxes, ex['labels'], valid & ~ex['difficult'], ex['difficult'], max_boxes)
    return {'image': image, 'boxes': boxes, 'labels': labels, 'valid': valid, 'extent': extent}

  def four(tiles, key):
    canvas, boxes = Y.mosaic(tiles['image'], tiles['boxes'], tiles['extent'])
    image, boxes, valid = Y.view(canvas, boxes, tf.reshape(tiles['valid'], [-1]), Y.random_view(key, scale, translate, 2),
                                 size, fill)
    return image, boxes, tf.reshape(tiles['labels'], [-1]), valid

  def one(tiles, key):
    n = tf.shape(tiles['boxes'])[0] * max_boxes
    pad = lambda t, value: tf.concat([t[0], tf.fill(tf.concat([[n - max_boxes], tf.shape(t[0])[1:]], 0), value)], 0)  # noqa: E731
    image, boxes, valid = Y.view(tiles['image'][0], pad(tiles['boxes'], 0.0), pad(tiles['valid'], False),
                                 Y.random_view(key, scale, translate, 1), size, fill)
    return image, boxes, pad(tiles['labels'], 0), valid

  def group(index, tiles):
    key = tf.stack([tf.constant(seed, tf.int64), index])
    if tiles['image'].shape[0] == 4:
      use = (A.uniform(key + 40) < probability) & ((close < 0) | (index // local_batch_size < close))
      image, boxes, labels, valid = tf.cond(use, lambda: four(tiles, key), lambda: one(tiles, key))
    else:
      image, boxes, labels, valid = one(tiles, key)
    if 'hsv' in ops:
      image = Y.hsv_gains(image, key + 50, tuple(config.get('hsv', (0.015, 0.7, 0.4))))
    if 'flip' in ops:
      image, boxes = A.flip_with_boxes(image, boxes, key + 30)
    boxes, valid = A.sanitize_boxes(boxes, valid)
    difficult = tf.zeros_like(valid)
    boxes, labels, valid, _, dropped = pad_boxes(boxes, labels, valid, difficult, max_boxes)
    return {'image': (image - mean) / std, 'boxes': boxes, 'labels': labels, 'box_valid': valid, 'dropped': dropped}
  return tile, group


def group_size(config) -> int:
  """Examples per training output: 4 with mosaic (config.mosaic > 0), else 1."""
  return 4 if config.get('mosaic', 0.0) > 0 else 1


class DetectionPipeline(DetectionSource):
  """Train and eval batches from a source's common examples (see TfdsDetectionSource._common); a
  subclass supplies _train_dataset() (this process's shard, shuffled), _eval_dataset(), the eval
  counts of every process and, for files on disk, _decode (reads the image after the resumable skip)."""

  def _setup(self, config, class_names, global_batch_size: int, eval_batch_size: int, seed: int,
             process_index: int, process_count: int, category_ids=None, channels: int = 3):
    self.config, self.seed = config, seed
    self.class_names = tuple(class_names)
    self.num_classes = len(self.class_names)
    self.category_ids = category_ids
    self.image_shape = (config.image_size, config.image_size, channels)
    self.max_boxes = config.get('max_boxes', 100)
    self.resize = resize_mode(config)
    problem = normalisation_problem(config.mean, config.std, channels)
    if problem:
      raise UserError(f'{problem} ({config.name}, decoded as {"RGB" if channels == 3 else "grey"})')
    self.mean = np.asarray(config.mean, np.float32)
    self.std = np.asarray(config.std, np.float32)
    self.model_input = detection_input(config.image_size, self.resize, self.mean, self.std)
    self.local_batch_size = global_batch_size // process_count
    self.local_eval_batch_size = eval_batch_size // process_count
    self.process_index, self.process_count = process_index, process_count
    self._warned = False

  def _decode(self, example):
    return example

  def _eval_fn(self, ex):
    """A common example -> a padded eval example."""
    # Ground truth stays normalised to the original image: the evaluators map detections back to it.
    boxes, valid = A.sanitize_boxes(ex['boxes'], tf.ones_like(ex['labels'], tf.bool))
    boxes, labels, valid, difficult, area, dropped = pad_boxes(boxes, ex['labels'], valid, ex['difficult'],
                                                               self.max_boxes, extra=(ex['area'],))
    return {'image': self.model_input(ex['image']), 'boxes': boxes, 'labels': labels, 'box_valid': valid,
            'difficult': difficult, 'area': area, 'image_id': ex['image_id'], 'image_hw': ex['image_hw'], 'dropped': dropped}

  def _checked(self, batches: Iterator[Batch]) -> Iterator[Batch]:
    """Fails on labels outside [0, num_classes) and warns once when boxes were dropped."""
    for batch in batches:
      labels = batch['labels'][batch['box_valid']]
      if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
        raise UserError(f'{self.config.name}: box label {int(labels.max() if labels.max() >= self.num_classes else labels.min())} '
                        f'is outside [0, {self.num_classes})')
      dropped = int(np.sum(batch.pop('dropped')))
      if dropped and not self._warned:
        logging.warning('images with more than %d boxes keep their %d largest (max_boxes); %d boxes dropped '
                        'in this batch', self.max_boxes, self.max_boxes, dropped)
        self._warned = True
      yield batch

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    start = start_step * self.local_batch_size
    if YOLO_OPS & set(augmentation_ops(self.config.get('augment', 'ssd'))) or group_size(self.config) > 1:
      tile, group = yolo_train_fn(self.config, self.seed, self.mean, self.std, self.max_boxes, self.local_batch_size)
      n = group_size(self.config)
      ds = self._train_dataset().repeat().skip(start * n)
      ds = parallel_map(ds, lambda ex: tile(self._decode(ex)))
      ds = parallel_map(ds.batch(n, drop_remainder=True).enumerate(start=start), group)
    else:
      train_fn = ssd_train_fn(self.config, self.seed, self.mean, self.std, self.max_boxes)
      ds = self._train_dataset().repeat().enumerate().skip(start)
      ds = parallel_map(ds, lambda index, ex: train_fn(index, self._decode(ex)))
    ds = ds.batch(self.local_batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return self._checked(iter(tfds.as_numpy(ds.with_options(tf_options()))))

  def eval_batches(self) -> Iterator[Batch]:
    ds = parallel_map(self._eval_dataset(), lambda ex: self._eval_fn(self._decode(ex)))
    ds = ds.batch(self.local_eval_batch_size).prefetch(tf.data.AUTOTUNE)
    count = -(-int(self._eval_counts.max()) // self.local_eval_batch_size)
    return padded_batches(self._checked(iter(tfds.as_numpy(ds.with_options(tf_options())))),
                          self.local_eval_batch_size, max(1, count))


class TfdsDetectionSource(DetectionPipeline):
  """See the module docstring; config is config.dataset."""

  def __init__(self, config, global_batch_size: int, eval_batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    hide_gpus_from_tensorflow()
    self.builder = dataset_builder(config)
    features = self.builder.info.features
    if 'objects' not in features or 'bbox' not in features['objects']:
      raise UserError(f'TFDS dataset {config.name!r} has no objects/bbox features for detection')
    self._setup(config, features['objects']['label'].names, global_batch_size, eval_batch_size, seed,
                process_index, process_count, COCO_CATEGORY_IDS if config.name.startswith('coco') else None)
    self.train_sources = [tuple(s) for s in config.get('train_sources', ())] or [(config.name, config.train_split)]
    self.eval_split = tfds.even_splits(config.eval_split, n=process_count, drop_remainder=False)[process_index]
    self._eval_counts = eval_counts(self.builder, self.eval_split, seed, process_count)
    self.num_eval_examples = int(sum(self._eval_counts))

  def _eval_dataset(self):
    return parallel_map(load_split(self.builder, self.eval_split, shuffle=False, seed=self.seed), self._common)

  def _train_dataset(self):
    parts = []
    for name, split in self.train_sources:
      builder = self.builder if name == self.config.name else dataset_builder(
          ml_collections.ConfigDict({'name': name, 'data_dir': self.config.get('data_dir', '')}))
      shard = tfds.even_splits(split, n=self.process_count)[self.process_index]
      parts.append(parallel_map(load_split(builder, shard, shuffle=True, seed=self.seed), self._common))
    ds = parts[0]
    for part in parts[1:]:
      ds = ds.concatenate(part)
    return ds.shuffle(self.config.get('shuffle_buffer', 10_000), seed=self.seed, reshuffle_each_iteration=True)

  def _common(self, example):
    """The fields every source keeps, in one structure (so VOC 2007 and 2012 concatenate)."""
    objects = example['objects']
    shape = tf.shape(example['image'])
    boxes, labels, flags = objects['bbox'], tf.cast(objects['label'], tf.int32), _flags(objects)
    # COCO's segment area in pixels sets its small/medium/large ranges; -1 (VOC): the box's own area.
    area = tf.cast(objects['area'], tf.float32) if 'area' in objects else -tf.ones_like(flags, tf.float32)
    # Real data has one entry per object in each field; tfds.testing.mock_data does not.
    n = tf.reduce_min(tf.stack([tf.shape(boxes)[0], tf.shape(labels)[0], tf.shape(flags)[0], tf.shape(area)[0]]))
    return {'image': example['image'], 'boxes': boxes[:n], 'labels': labels[:n], 'difficult': flags[:n],
            'area': area[:n], 'image_id': tf.cast(example.get('image/id', tf.constant(-1, tf.int64)), tf.int64),
            'image_hw': tf.stack([shape[0], shape[1]])}
