"""Bundled, offline detection data: digit scenes, seeded synthetic images built from real glyphs.

Each scene is a 128x128 grey image (repeated to `channels`) with 1 to 6 of scikit-learn's
handwritten digits, each scaled to 12-48 pixels and pasted (brightest wins) onto a textured,
noisy background, overlapping earlier digits by at most IoU 0.2. Labels are the digit classes 0-9;
boxes are the glyphs' tight [ymin, xmin, ymax, xmax], normalised. Train scenes use the digits
train split and test scenes the test split, so no glyph is in both. Scene i of a split is a pure
function of (split seed, i): the train stream is endless and resumable, the test set fixed.
"""

import functools
from typing import Iterator

import numpy as np
from scipy.ndimage import zoom

from vision_jax.data.array_box_augment import ARRAY_OPS, augment_example, augmentation_ops
from vision_jax.data.batching import Batch, num_batches, pad_batch, process_slice
from vision_jax.data.digits import load_digits_split
from vision_jax.data.source import DetectionSource
from vision_jax.detection.boxes import pairwise_iou
from vision_jax.errors import UserError

IMAGE_SIZE = 128
MAX_DIGITS = 6
CLASS_NAMES = tuple(str(d) for d in range(10))
SPLIT_SEEDS = {'train': 1, 'test': 2}


def glyph(image: np.ndarray, size: int) -> np.ndarray:
  """An 8x8 digit (values in [0, 1]) bilinearly scaled to size x size."""
  return np.clip(zoom(image, size / 8.0, order=1), 0.0, 1.0)[:size, :size]


def background(rng: np.random.Generator, size: int) -> np.ndarray:
  """Low-frequency texture (a few random sinusoids) plus pixel noise, in about [0, 0.55]."""
  y, x = np.mgrid[0:size, 0:size] / size
  texture = np.zeros((size, size))
  for _ in range(3):
    fy, fx, phase = rng.uniform(0.5, 6, 2).tolist() + [rng.uniform(0, 2 * np.pi)]
    texture += np.sin(2 * np.pi * (fy * y + fx * x) + phase)
  texture = 0.15 + 0.12 * texture / 3 * rng.uniform(0.5, 1.5)
  return np.clip(texture + rng.normal(0, rng.uniform(0.02, 0.08), (size, size)), 0, 0.55)


def brighter(image: np.ndarray, split: str, index: int, background_level: float) -> np.ndarray:
  """The background shifted to a mean drawn from [its own, background_level] (from a stream of its
  own, so the scene's digits and their places stay the same)."""
  level = np.random.default_rng([SPLIT_SEEDS[split], index, 7]).uniform(image.mean(), background_level)
  return np.clip(image + level - image.mean(), 0.0, 1.0)


def make_scene(index: int, split: str, size: int = IMAGE_SIZE, min_digit: int = 12, max_digit: int = 48,
               background_level: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(image (size, size) float32 in [0, 1], boxes (n, 4) normalised, labels (n,)) of scene `index`.
  background_level > 0 draws brighter backgrounds: mean levels up to it."""
  digits, labels = load_digits_split(split)
  rng = np.random.default_rng([SPLIT_SEEDS[split], index])
  image = background(rng, size)
  if background_level > image.mean():
    image = brighter(image, split, index, background_level)
  boxes, classes = [], []
  for _ in range(int(rng.integers(1, MAX_DIGITS + 1))):
    for _attempt in range(20):
      s = int(rng.integers(min_digit, max_digit + 1))
      top, left = rng.integers(0, size - s + 1, 2)
      which = int(rng.integers(len(labels)))
      g = glyph(digits[which, :, :, 0], s) * rng.uniform(0.7, 1.0)
      rows, cols = np.flatnonzero(g.max(1) > 0.1), np.flatnonzero(g.max(0) > 0.1)
      box = np.array([top + rows[0], left + cols[0], top + rows[-1] + 1, left + cols[-1] + 1], np.float64)
      if not boxes or pairwise_iou(box[None], np.asarray(boxes)).max() <= 0.2:
        image[top:top + s, left:left + s] = np.maximum(image[top:top + s, left:left + s], g)
        boxes.append(box)
        classes.append(int(labels[which]))
        break
  return (image.astype(np.float32), np.asarray(boxes, np.float32).reshape(-1, 4) / size,
          np.asarray(classes, np.int32))


@functools.lru_cache(maxsize=32)  # every test batch of a few test sets: evaluations reuse them
def scene_batch(split: str, start: int, count: int, channels: int, background_level: float = 0.0) -> Batch:
  """Scenes start..start+count-1 as a batch: image (N, S, S, channels), boxes (N, 6, 4) padded,
  labels (N, 6), box_valid (N, 6) bool."""
  return _stack([make_scene(i, split, background_level=background_level) for i in range(start, start + count)],
                channels)


class DigitScenesSource(DetectionSource):
  """Detection source over digit scenes; batches carry image, boxes, labels, box_valid (+ mask; eval
  batches also image_id, the test scene's index).
  config: channels, mean, std, num_test_scenes, augment (train; see array_box_augment), brightness,
  gamma and value_gain (the photometric shift, log-gamma range and gain range), background_level (test scenes with brighter backgrounds)."""

  num_classes = 10
  class_names = CLASS_NAMES
  category_ids = tuple(range(1, 11))   # COCO-style ids of digits 0-9: the evaluator adds pycocotools' metrics
  max_boxes = MAX_DIGITS

  def __init__(self, config, global_batch_size: int, eval_batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    self.channels = config.get('channels', 3)
    self.mean = np.asarray(config.get('mean', 0.5), np.float32)
    self.std = np.asarray(config.get('std', 0.5), np.float32)
    self.image_shape = (IMAGE_SIZE, IMAGE_SIZE, self.channels)
    self.num_eval_examples = config.get('num_test_scenes', 500)
    self.global_batch_size, self.eval_batch_size = global_batch_size, eval_batch_size
    self.seed, self.process_index, self.process_count = seed, process_index, process_count
    self.augment = augmentation_ops(config.get('augment', 'none'), ARRAY_OPS)
    if config.get('mosaic', 0.0):
      raise UserError('dataset.mosaic applies to TFDS detection data; digit scenes already hold several objects')
    self.brightness, self.gamma = config.get('brightness', 32 / 255), config.get('gamma', 0.0)
    self.value_gain = config.get('value_gain', 0.0)
    self.background_level = float(config.get('background_level', 0.0))

  def _normalise(self, batch: Batch) -> Batch:
    return {**batch, 'image': ((batch['image'] - self.mean) / self.std).astype(np.float32)}

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    """Global batch `step` holds train scenes offset + step * B ...; the offset depends on the seed."""
    b, offset = self.global_batch_size, self.seed * 10_000_000
    step = start_step
    while True:
      scenes = [make_scene(offset + step * b + i, 'train') for i in range(b)]
      batch = _stack(scenes, self.channels)
      if self.augment:
        batch = self._augmented(batch, step)
      yield process_slice(self._normalise(batch), self.process_index, self.process_count)
      step += 1

  def _augmented(self, batch: Batch, step: int) -> Batch:
    """The global batch of `step` through the augment ops, from a generator seeded by (seed, step)."""
    rng = np.random.default_rng([self.seed, step, 3])
    out = [augment_example(image, boxes, valid, rng, self.augment, self.brightness, self.gamma, self.value_gain)
           for image, boxes, valid in zip(batch['image'], batch['boxes'], batch['box_valid'])]
    images, boxes, valid = (np.stack(parts) for parts in zip(*out))
    return {**batch, 'image': images, 'boxes': boxes, 'box_valid': valid}

  def eval_batches(self) -> Iterator[Batch]:
    """The fixed test scenes, padded and masked, each exactly once over all processes."""
    b, n = self.eval_batch_size, self.num_eval_examples
    for i in range(num_batches(n, b)):
      batch = scene_batch('test', i * b, min(b, n - i * b), self.channels, self.background_level)
      batch['image_id'] = np.arange(i * b, i * b + len(batch['image']), dtype=np.int32)   # the scene index
      yield process_slice(pad_batch(self._normalise(batch), b), self.process_index, self.process_count)


def _stack(scenes, channels: int) -> Batch:
  count = len(scenes)
  boxes = np.zeros((count, MAX_DIGITS, 4), np.float32)
  labels = np.zeros((count, MAX_DIGITS), np.int32)
  valid = np.zeros((count, MAX_DIGITS), bool)
  for i, (_, b, l) in enumerate(scenes):
    boxes[i, :len(l)], labels[i, :len(l)], valid[i, :len(l)] = b, l, True
  images = np.stack([s[0] for s in scenes])[..., None].repeat(channels, -1)
  return {'image': images, 'boxes': boxes, 'labels': labels, 'box_valid': valid}


def digit_scenes_source(config, global_batch_size, eval_batch_size, seed, process_index, process_count):
  return DigitScenesSource(config, global_batch_size, eval_batch_size, seed, process_index, process_count)
