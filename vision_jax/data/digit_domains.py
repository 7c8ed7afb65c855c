"""Two bundled image domains of the same digits, for translation demos (pix2pix, CycleGAN), offline.

Domain A: scikit-learn's digits as grey strokes on black, resized to 32x32 (1 channel).
Domain B: the same strokes in a saturated, bright colour on a darker background of another hue,
textured by two random sinusoidal gratings (3 channels). Each digit's colours and texture are drawn
from a generator seeded by (B_SEED, its index in the full dataset), so the pair (A_i, B_i) is fixed
whatever the split, and pix2pix trains on true pairs. CycleGAN takes disjoint halves of the train
digits for A and B (`unpaired_halves`), so it never sees a pair.
"""

import functools

import numpy as np
from matplotlib.colors import hsv_to_rgb
from sklearn.datasets import load_digits

from vision_jax.data.arrays import ArraySource, prepare_images, stratified_split
from vision_jax.data.digits import NUM_TEST
from vision_jax.errors import UserError

B_SEED = 2017
DOMAINS = ('a', 'b', 'pairs', 'unpaired', 'ab')
IMAGE_SIZE = 32
TEXTURE_AMPLITUDE = 0.08  # per grating, in [0, 1] pixel units


def domain_b_colours(key: int, size: int) -> tuple[np.ndarray, np.ndarray]:
  """(textured background (size, size, 3), stroke colour (3,)) of digit `key`: hues a third to two
  thirds of the colour wheel apart, the stroke bright and saturated, the background darker."""
  rng = np.random.default_rng([B_SEED, key])
  background_hue = rng.uniform()
  stroke_hue = (background_hue + rng.uniform(1 / 3, 2 / 3)) % 1.0
  background = hsv_to_rgb([background_hue, rng.uniform(0.4, 0.8), rng.uniform(0.25, 0.5)])
  stroke = hsv_to_rgb([stroke_hue, rng.uniform(0.7, 1.0), rng.uniform(0.85, 1.0)])
  y, x = np.meshgrid(np.arange(size) / size, np.arange(size) / size, indexing='ij')
  texture = np.zeros((size, size, 3))
  for _ in range(2):
    cycles_y, cycles_x = rng.uniform(2, 6, size=2) * rng.choice([-1, 1], size=2)
    grating = np.sin(2 * np.pi * (cycles_y * y + cycles_x * x) + rng.uniform(0, 2 * np.pi))
    texture += TEXTURE_AMPLITUDE * grating[..., None] * rng.uniform(0.5, 1.0, size=3)
  return np.clip(background + texture, 0.0, 1.0), stroke


def render_domain_b(strokes: np.ndarray, keys: np.ndarray) -> np.ndarray:
  """Domain-B images (N, S, S, 3) in [0, 1] of grey strokes (N, S, S, 1) in [0, 1]: the stroke
  intensity blends each digit's stroke colour over its textured background."""
  out = np.empty(strokes.shape[:3] + (3,), np.float32)
  for i, (stroke_map, key) in enumerate(zip(strokes, keys)):
    background, stroke = domain_b_colours(int(key), strokes.shape[1])
    out[i] = background * (1.0 - stroke_map) + stroke * stroke_map
  return out


@functools.lru_cache(maxsize=4)
def load_digit_domains(split: str, image_size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(domain A (N, S, S, 1), domain B (N, S, S, 3), labels) of the bundled digits' fixed 'train'
  (1,437) or 'test' (360) split, pixels in [0, 1]; A[i] and B[i] are the same digit."""
  data = load_digits()
  index = stratified_split(data.target, NUM_TEST)[split]
  domain_a = np.clip(prepare_images(data.images[index, ..., None].astype(np.float32) / 16.0, image_size, 1), 0, 1)
  return domain_a, render_domain_b(domain_a, index), data.target[index].astype(np.int32)


def unpaired_halves(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Disjoint index sets (for A, for B) splitting `count` examples in half, seeded: CycleGAN's
  domains never hold the same digit."""
  order = np.random.default_rng([B_SEED, seed]).permutation(count)
  return np.sort(order[: count // 2]), np.sort(order[count // 2:])


def domain_a_channels(domain_a: np.ndarray, channels: int) -> np.ndarray:
  """Domain A with `channels` channels: 1 as rendered, 3 as grey RGB (so that one network can take
  both domains, as CycleGAN's identity loss needs)."""
  if channels not in (1, 3):
    raise UserError(f'dataset.a_channels must be 1 or 3, got {channels}')
  return np.repeat(domain_a, channels, axis=-1)


def unpaired_train(domain_a: np.ndarray, domain_b: np.ndarray, labels: np.ndarray, seed: int):
  """(A images, their labels, B images) from disjoint halves of the train digits, cut to one length:
  row i holds two different digits, so no pair is ever seen."""
  half_a, half_b = unpaired_halves(len(labels), seed)
  count = min(len(half_a), len(half_b))
  return domain_a[half_a[:count]], labels[half_a[:count]], domain_b[half_b[:count]]


def digit_domains_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                         process_index: int = 0, process_count: int = 1) -> ArraySource:
  """dataset.name 'digit_domains' at 32x32, by config.domain:
    'a'        grey digits (dataset.a_channels: 1, or 3 as grey RGB), digit labels;
    'b'        their coloured rendering (3 channels; a classifier of it scores translations);
    'pairs'    image = A, target = B of the same digit (pix2pix);
    'unpaired' image = A, target = B from the other half of the train digits (CycleGAN); the test
               split keeps true pairs, for PSNR/SSIM against the right answer;
    'ab'       A and B together, labelled 0 (A) and 1 (B): the domain classifier's data.
  mean and std apply to both domains."""
  domain = config.get('domain', 'pairs')
  if domain not in DOMAINS:
    raise UserError(f'unknown dataset.domain {domain!r}; choose one of: {", ".join(DOMAINS)}')
  (train_a, train_b, train_labels), (test_a, test_b, test_labels) = (load_digit_domains(s) for s in ('train', 'test'))
  train_a, test_a = (domain_a_channels(x, config.get('a_channels', 1)) for x in (train_a, test_a))
  num_classes, extras = 10, None
  if domain == 'unpaired':
    train_a, train_labels, unpaired_b = unpaired_train(train_a, train_b, train_labels, seed)
    extras = {'target': (unpaired_b, test_b)}
  elif domain == 'pairs':
    extras = {'target': (train_b, test_b)}
  if domain == 'ab':
    num_classes = 2
    train = (np.concatenate([train_a, train_b]), np.repeat(np.int32([0, 1]), len(train_labels)))
    test = (np.concatenate([test_a, test_b]), np.repeat(np.int32([0, 1]), len(test_labels)))
  else:
    images = {'b': (train_b, test_b)}.get(domain, (train_a, test_a))
    train, test = (images[0], train_labels), (images[1], test_labels)
  return ArraySource(train, test, num_classes, global_batch_size, eval_batch_size, seed,
                     mean=np.asarray(config.get('mean', 0.5), np.float32),
                     std=np.asarray(config.get('std', 0.5), np.float32), max_shift=config.get('max_shift', 0),
                     process_index=process_index, process_count=process_count, extras=extras)
