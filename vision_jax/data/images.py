"""Reading a single photo for prediction: a file path, or 'skimage:NAME' for scikit-image's bundled photos."""

import jax
import numpy as np
import skimage.data
from PIL import Image, UnidentifiedImageError

from vision_jax.errors import UserError

BUNDLED_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'cat')


def read_rgb(spec: str) -> np.ndarray:
  """HxWx3 uint8 RGB from a path or 'skimage:chelsea'; greyscale and alpha are converted."""
  if spec.startswith('skimage:'):
    name = spec.split(':', 1)[1]
    if name not in BUNDLED_PHOTOS:
      raise UserError(f'unknown bundled photo {name!r}; choose one of: {", ".join(BUNDLED_PHOTOS)}')
    image = getattr(skimage.data, name)()
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
