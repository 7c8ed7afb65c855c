"""SSD-style augmentation of in-memory detection batches (the bundled digit scenes), in numpy: the
ops of box_augment.py's tf.data pipeline, chosen by the same config.dataset.augment names.

Ops: photometric (optional value gain and gamma, brightness +-`brightness`, contrast x0.5-1.5), expand (zoom out up to 4x, filled
with the image mean), crop (SSD's min-IoU sampler, box centres kept inside), flip. Geometry is one
bilinear resample per image; boxes are (G, 4) normalised with a (G,) `valid` mask. Every draw
comes from the numpy Generator passed in, so a seeded stream is reproducible and resumable.
"""

from typing import Optional

import numpy as np
from scipy.ndimage import affine_transform

from vision_jax.detection.boxes import pairwise_iou
from vision_jax.errors import UserError

# config.dataset.augment -> ops; the tf.data pipeline reads the same names.
AUGMENTATIONS = {'none': (), 'flip': ('flip',), 'photometric': ('photometric',),
                 'ssd': ('photometric', 'expand', 'crop', 'flip'),
                 'ssd_noflip': ('photometric', 'expand', 'crop'),
                 'yolo': ('hsv', 'affine', 'flip')}   # tf.data only (yolo_augment.py), with dataset.mosaic
ARRAY_OPS = ('photometric', 'expand', 'crop', 'flip')   # what augment_example implements
MIN_IOUS = (-1.0, 0.1, 0.3, 0.5, 0.7, 0.9, 2.0)  # -1: any crop; 2.0: keep the whole image


def augmentation_ops(name: str, implemented: Optional[tuple[str, ...]] = None) -> tuple[str, ...]:
  """The ops of augment `name`; a UserError when it is unknown or needs ops outside `implemented`
  (the bundled array datasets implement ARRAY_OPS)."""
  names = [n for n, ops in AUGMENTATIONS.items() if implemented is None or set(ops) <= set(implemented)]
  if name not in names:
    raise UserError(f'unknown dataset.augment {name!r} for this dataset; choose one of: {", ".join(names)}')
  return AUGMENTATIONS[name]


def photometric(image: np.ndarray, rng: np.random.Generator, brightness: float = 32 / 255,
                gamma: float = 0.0, value_gain: float = 0.0) -> np.ndarray:
  """Random value gain x * U(1 - value_gain, 1 + value_gain) (0: none; Ultralytics' hsv_v: bright
  pixels saturate, so contrast falls as the image brightens), gamma x ** exp(U(-gamma, gamma)) (0:
  none; below 1 it lifts dark backgrounds more than bright objects), brightness shift and contrast
  (about the image mean), clipped to [0, 1]."""
  if value_gain:
    image = np.clip(image * rng.uniform(1 - value_gain, 1 + value_gain), 0.0, 1.0)
  if gamma:
    image = np.clip(image, 0.0, 1.0) ** np.exp(rng.uniform(-gamma, gamma))
  image = image + rng.uniform(-brightness, brightness)
  mean = image.mean(axis=(0, 1), keepdims=True)
  return np.clip((image - mean) * rng.uniform(0.5, 1.5) + mean, 0.0, 1.0)


def expand_geometry(rng: np.random.Generator, max_ratio: float = 4.0, probability: float = 0.5):
  """(ratio, top, left): the zoom-out canvas as a multiple of the image side, and the image's
  top-left corner in it as fractions of the image side."""
  ratio = rng.uniform(1.0, max_ratio) if rng.uniform() < probability else 1.0
  top, left = rng.uniform(size=2) * (ratio - 1)
  return ratio, top, left


def sample_crop(boxes: np.ndarray, valid: np.ndarray, rng: np.random.Generator, trials: int = 50):
  """SSD's sampler (as box_augment.sample_crop): (crop [y0, x0, y1, x1] normalised, boxes whose
  centre lies inside it); the whole image and `valid` when no trial fits."""
  min_iou = MIN_IOUS[rng.integers(len(MIN_IOUS))]
  sizes = rng.uniform(0.3, 1.0, (trials, 2))
  aspect_ok = (sizes[:, 0] / sizes[:, 1] >= 0.5) & (sizes[:, 0] / sizes[:, 1] <= 2.0)
  origins = rng.uniform(size=(trials, 2)) * (1.0 - sizes)
  crops = np.concatenate([origins, origins + sizes], -1)
  lowest = np.where(valid[None], pairwise_iou(crops, boxes.astype(np.float64)), 2.0).min(axis=1)
  centres = (boxes[:, :2] + boxes[:, 2:]) / 2
  inside = np.all((centres[None] > crops[:, None, :2]) & (centres[None] < crops[:, None, 2:]), -1) & valid[None]
  ok = aspect_ok & (lowest >= min_iou) & inside.any(1)
  if min_iou > 1.0 or not ok.any():
    return np.array([0.0, 0.0, 1.0, 1.0]), valid
  choice = int(np.argmax(ok))
  return crops[choice], inside[choice]


def resample(image: np.ndarray, window: np.ndarray, fill: np.ndarray) -> np.ndarray:
  """The window [y0, x0, y1, x1] (in image-side units, may reach outside) resampled bilinearly to the
  image's size; outside pixels read as `fill`."""
  size = image.shape[0]
  scale = (window[2:] - window[:2])
  offset = window[:2] * size + 0.5 * scale - 0.5
  channels = [affine_transform(image[..., c], scale, offset, order=1, mode='constant', cval=float(fill[c]))
              for c in range(image.shape[-1])]
  return np.stack(channels, -1)


def augment_example(image: np.ndarray, boxes: np.ndarray, valid: np.ndarray, rng: np.random.Generator,
                    ops: tuple[str, ...], brightness: float = 32 / 255, gamma: float = 0.0, value_gain: float = 0.0):
  """One square image (S, S, C) in [0, 1] with its boxes through `ops`: (image, boxes, valid)."""
  if 'photometric' in ops:
    image = photometric(image, rng, brightness, gamma, value_gain)
  window = np.array([0.0, 0.0, 1.0, 1.0])
  boxes_now = boxes.astype(np.float64)
  if 'expand' in ops:
    ratio, top, left = expand_geometry(rng)
    boxes_now = (boxes_now + np.array([top, left, top, left])) / ratio
    window = np.array([-top, -left, ratio - top, ratio - left])
  if 'crop' in ops:
    crop, valid = sample_crop(boxes_now, valid, rng)
    size = np.tile(crop[2:] - crop[:2], 2)
    boxes_now = np.clip((boxes_now - np.tile(crop[:2], 2)) / size, 0.0, 1.0)
    extent = window[2:] - window[:2]
    window = np.concatenate([window[:2] + crop[:2] * extent, window[:2] + crop[2:] * extent])
  if not np.array_equal(window, [0.0, 0.0, 1.0, 1.0]):
    image = resample(image, window, image.mean(axis=(0, 1)))
  if 'flip' in ops and rng.uniform() < 0.5:
    image = image[:, ::-1]
    boxes_now = np.stack([boxes_now[:, 0], 1 - boxes_now[:, 3], boxes_now[:, 2], 1 - boxes_now[:, 1]], -1)
  has_area = (boxes_now[:, 2] > boxes_now[:, 0]) & (boxes_now[:, 3] > boxes_now[:, 1])
  valid = valid & has_area
  return image.astype(np.float32), np.where(valid[:, None], boxes_now, 0.0).astype(np.float32), valid
