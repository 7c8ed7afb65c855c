"""Reading a single photo (prediction, neural style): a file path, 'skimage:NAME' for scikit-image's
bundled photos or 'sklearn:NAME' for scikit-learn's sample images; and that photo as a one-image
source (dataset.name 'content_image')."""

import jax
import numpy as np
import skimage.data
from PIL import Image, UnidentifiedImageError
from sklearn.datasets import load_sample_image

from vision_jax.data.arrays import ArraySource
from vision_jax.errors import UserError

BUNDLED_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'cat')
SKLEARN_PHOTOS = ('china', 'flower')


def read_rgb(spec: str) -> np.ndarray:
  """HxWx3 uint8 RGB from a path, 'skimage:chelsea' or 'sklearn:flower'; greyscale and alpha are converted."""
  if spec.startswith('skimage:'):
    name = spec.split(':', 1)[1]
    if name not in BUNDLED_PHOTOS:
      raise UserError(f'unknown bundled photo {name!r}; choose one of: {", ".join(BUNDLED_PHOTOS)}')
    image = getattr(skimage.data, name)()
  elif spec.startswith('sklearn:'):
    name = spec.split(':', 1)[1]
    if name not in SKLEARN_PHOTOS:
      raise UserError(f'unknown scikit-learn sample image {name!r}; choose one of: {", ".join(SKLEARN_PHOTOS)}')
    image = load_sample_image(f'{name}.jpg')
  else:
    try:
      with Image.open(spec) as f:
        image = np.asarray(f.convert('RGB'))
    except FileNotFoundError:
      raise UserError(f'image {spec} does not exist') from None
    except (UnidentifiedImageError, OSError) as e:
      raise UserError(f'image {spec} cannot be read as an image ({e})') from None
  if image.ndim == 2:
    image = np.stack([image] * 3, axis=-1)
  return image[..., :3].astype(np.uint8)


def center_crop_resize(image: np.ndarray, size: int, crop_fraction: float, method: str = 'cubic') -> np.ndarray:
  """Central square of crop_fraction x the short side, resized to size x size (float32, 0-255).

  This is the TF EfficientNet/ResNet eval transform (crop fraction 224/256 = 0.875),
  resized without antialiasing as tf.image.resize does by default.
  """
  h, w = image.shape[:2]
  crop = max(1, int(round(crop_fraction * min(h, w))))
  top, left = (h - crop) // 2, (w - crop) // 2
  patch = image[top:top + crop, left:left + crop].astype(np.float32)
  return np.asarray(jax.image.resize(patch, (size, size, 3), method, antialias=False))


def content_image_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                         process_index: int = 0, process_count: int = 1) -> ArraySource:
  """dataset.name 'content_image': the one photo config.image (a path or a bundled name), its
  central square resized to config.image_size, as both splits (neural style optimises this image)."""
  if not config.get('image'):
    raise UserError('no content image given: set --config.content=PATH (or skimage:chelsea)')
  pixels = center_crop_resize(read_rgb(config.image), config.image_size, 1.0)[None] / 255.0
  labels = np.zeros(1, np.int32)
  return ArraySource((pixels, labels), (pixels, labels), 1, global_batch_size, eval_batch_size, seed,
                     mean=np.asarray(config.get('mean', 0.5), np.float32), std=np.asarray(config.get('std', 0.5), np.float32),
                     process_index=process_index, process_count=process_count)


def bundled_photo_names() -> list[str]:
  """Every photo that ships offline, as read_rgb names."""
  return [f'skimage:{n}' for n in BUNDLED_PHOTOS] + [f'sklearn:{n}' for n in SKLEARN_PHOTOS]


def photos_source(config, global_batch_size: int, eval_batch_size: int, seed: int,
                  process_index: int = 0, process_count: int = 1) -> ArraySource:
  """dataset.name 'photos': the seven bundled photos (scikit-image's and scikit-learn's), central
  squares at config.image_size; config.eval_photos (default chelsea) are held out for evaluation,
  the rest train (the feed-forward style demo)."""
  held_out = tuple(config.get('eval_photos', ('skimage:chelsea',)))
  unknown = [name for name in held_out if name not in bundled_photo_names()]
  if unknown or len(held_out) >= len(bundled_photo_names()):
    raise UserError(f'dataset.eval_photos must name some, not all, of: {", ".join(bundled_photo_names())}')
  load = lambda names: np.stack([center_crop_resize(read_rgb(n), config.image_size, 1.0) / 255.0 for n in names])
  train_names = [n for n in bundled_photo_names() if n not in held_out]
  return ArraySource((load(train_names), np.zeros(len(train_names), np.int32)),
                     (load(held_out), np.zeros(len(held_out), np.int32)), 1, global_batch_size, eval_batch_size,
                     seed, mean=np.asarray(config.get('mean', 0.5), np.float32),
                     std=np.asarray(config.get('std', 0.5), np.float32),
                     process_index=process_index, process_count=process_count)
