"""In-memory image datasets (the bundled ones): a deterministic, resumable ArraySource and the
few-shot, resize and channel helpers they share."""

from typing import Callable, Iterator, Optional

import jax
import numpy as np
from sklearn.model_selection import train_test_split

from vision_jax.data.batching import Batch, num_batches, pad_batch, process_slice
from vision_jax.data.source import Source
from vision_jax.errors import UserError


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
  """Bilinear resize of NHWC float images to size x size (half-pixel centres, like tf.image)."""
  n, _, _, c = images.shape
  return np.asarray(jax.image.resize(images, (n, size, size, c), 'bilinear'))


def few_shot_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
  """`per_class` examples of every class, drawn with `seed` (sorted positions into `labels`)."""
  rng = np.random.default_rng([seed, 7])
  chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
  return np.sort(np.concatenate(chosen))


def stratified_split(labels: np.ndarray, num_test: int) -> dict[str, np.ndarray]:
  """A fixed (seed 0), class-stratified train/test split: sorted indices per split."""
  train, test = train_test_split(np.arange(len(labels)), test_size=num_test, stratify=labels, random_state=0)
  return {'train': np.sort(train), 'test': np.sort(test)}


def select_split(name: str, images: np.ndarray, labels: np.ndarray, split: str, num_test: int,
                 image_size: int, channels: int, per_class: int = 0,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(images NHWC float32 in [0, 1], labels int32) of dataset `name`'s fixed split 'train' or 'test'.

  per_class > 0 keeps that many labelled examples of each class, drawn with `seed` (few-shot);
  channels=3 repeats grey images for RGB-pretrained backbones.
  """
  if split not in ('train', 'test'):
    raise UserError(f"unknown {name} split {split!r}; choose one of: train, test")
  idx = stratified_split(labels, num_test)[split]
  if per_class:
    idx = idx[few_shot_indices(labels[idx], per_class, seed)]
  return prepare_images(images[idx].astype(np.float32), image_size, channels), labels[idx].astype(np.int32)


def prepare_images(images: np.ndarray, image_size: int, channels: int) -> np.ndarray:
  """NHWC float images in [0, 1], resized to image_size (0 keeps them) with grey repeated to `channels`."""
  if image_size and image_size != images.shape[1]:
    images = resize_images(images, image_size)
  if channels != images.shape[-1]:
    images = np.repeat(images, channels, axis=-1)
  return images


def random_shifts(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
  """Translates each image by up to max_shift pixels in x and y, filling with zeros."""
  if max_shift == 0:
    return images
  n, h, w, _ = images.shape
  padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
  dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
  rows = dy[:, None] + np.arange(h)[None]
  cols = dx[:, None] + np.arange(w)[None]
  return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


class ArraySource(Source):
  """A classification source over in-memory arrays with a deterministic, resumable stream.

  extras: {key: (train images, test images)} of more per-example images that travel with each
  example under `key`, normalised alike (a translation target: the same digit in another domain)."""

  def __init__(self, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
               num_classes: int, global_batch_size: int, eval_batch_size: int, seed: int,
               mean: np.ndarray, std: np.ndarray, max_shift: int = 0,
               process_index: int = 0, process_count: int = 1,
               extras: Optional[dict[str, tuple[np.ndarray, np.ndarray]]] = None):
    self.train_images, self.train_labels = train
    self.test_images, self.test_labels = test
    self.extras = dict(extras or {})
    if self.extras and max_shift:
      raise UserError('dataset.max_shift would move the images but not their paired targets; set it to 0')
    self.num_classes = num_classes
    self.image_shape = self.train_images.shape[1:]
    self.num_eval_examples = len(self.test_labels)
    self.global_batch_size = global_batch_size
    self.eval_batch_size = eval_batch_size
    self.seed, self.mean, self.std, self.max_shift = seed, mean, std, max_shift
    self.process_index, self.process_count = process_index, process_count

  def _normalise(self, images: np.ndarray) -> np.ndarray:
    return ((images - self.mean) / self.std).astype(np.float32)

  def split_images(self, split: str) -> np.ndarray:
    """Every normalised image of the 'train' or 'test' split (reference statistics of real data)."""
    return self._normalise(self.train_images if split == 'train' else self.test_images)

  def global_train_batch(self, step: int) -> Batch:
    """The global batch for `step`: epoch-wise permutations seeded by (seed, epoch)."""
    n, b = len(self.train_labels), self.global_batch_size
    per_epoch = n // b
    epoch, offset = divmod(step, per_epoch)
    order = np.random.default_rng([self.seed, epoch]).permutation(n)[offset * b:(offset + 1) * b]
    images = random_shifts(self.train_images[order], self.max_shift,
                           np.random.default_rng([self.seed, epoch, offset, 1]))
    extras = {key: self._normalise(train[order]) for key, (train, _) in self.extras.items()}
    return {'image': self._normalise(images), 'label': self.train_labels[order], **extras}

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    """This process's share of each global train batch, from `start_step` on, forever."""
    if self.global_batch_size > len(self.train_labels):
      raise UserError(f'batch_size {self.global_batch_size} exceeds the '
                      f'{len(self.train_labels)} training examples')
    step = start_step
    while True:
      yield process_slice(self.global_train_batch(step), self.process_index, self.process_count)
      step += 1

  def eval_batches(self) -> Iterator[Batch]:
    """Masked local batches covering every test example exactly once across processes."""
    images, labels = self._normalise(self.test_images), self.test_labels
    b = self.eval_batch_size
    count = num_batches(len(labels), b)

    extras = {key: self._normalise(test) for key, (_, test) in self.extras.items()}
    for i in range(count):
      batch = pad_batch({'image': images[i * b:(i + 1) * b], 'label': labels[i * b:(i + 1) * b],
                         **{key: values[i * b:(i + 1) * b] for key, values in extras.items()}}, b)
      yield process_slice(batch, self.process_index, self.process_count)


def array_source(load_split: Callable, num_classes: int, config, global_batch_size: int,
                 eval_batch_size: int, seed: int, process_index: int, process_count: int) -> 'ArraySource':
  """An ArraySource over load_split(split, image_size, channels, per_class, seed), configured by
  config.image_size, channels, examples_per_class (few-shot, drawn with `seed`), mean, std, max_shift."""
  size, channels = config.get('image_size', 0), config.get('channels', 1)
  train = load_split('train', size, channels, config.get('examples_per_class', 0), seed)
  return ArraySource(train, load_split('test', size, channels), num_classes,
                     global_batch_size, eval_batch_size, seed,
                     mean=np.asarray(config.get('mean', 0.5), np.float32),
                     std=np.asarray(config.get('std', 0.5), np.float32),
                     max_shift=config.get('max_shift', 0),
                     process_index=process_index, process_count=process_count)
