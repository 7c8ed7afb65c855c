"""A predictor's inputs: image files (any format TF decodes: JPEG, PNG, BMP, GIF), bundled photos
('skimage:chelsea', 'sklearn:china') or arrays, brought to the channels the model trained on exactly
as the file sources decode them (alpha dropped, grey repeated, colour to grey by rounded luma)."""

import os
import re
from typing import Union

import jax
import numpy as np
import tensorflow as tf

from vision_jax.data.file_sources import read_image
from vision_jax.data.images import read_rgb
from vision_jax.errors import UserError

Image = Union[str, os.PathLike, np.ndarray]
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.gif')


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
  """An (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array of 0-255 values -> uint8 (H, W, channels)."""
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
    raise UserError(f'an image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {image.shape}')
  rgb = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image, 3, axis=-1)
  rgb = np.clip(np.round(rgb), 0, 255).astype(np.uint8) if rgb.dtype != np.uint8 else rgb
  if channels == 1:
    return np.asarray(tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(rgb, tf.float32))), tf.uint8))
  return rgb


def read(item: Image, channels: int) -> np.ndarray:
  """One input as uint8 (H, W, channels); a UserError naming a file that is missing or not an image."""
  if isinstance(item, np.ndarray):
    return to_channels(item, channels)
  path = os.fspath(item)
  if path.startswith(('skimage:', 'sklearn:')):
    return to_channels(read_rgb(path), channels)
  if not os.path.isfile(path):
    raise UserError(f'image {path} does not exist')
  try:
    return np.asarray(read_image(path, channels))
  except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
    reason = re.sub(r'\{\{.*?\}\}\s*', '', e.message.splitlines()[0]).strip()
    raise UserError(f'image {path} cannot be read as an image ({reason[:120]})') from None


def image_files(path: str) -> list[str]:
  """A folder's image files (by suffix, sorted, not recursive), or the one file `path` names."""
  if os.path.isfile(path):
    return [path]
  if not os.path.isdir(path):
    raise UserError(f'{path} is neither an image file nor a folder')
  files = sorted(os.path.join(path, n) for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES))
  if not files:
    raise UserError(f'folder {path} holds no image files ({", ".join(IMAGE_SUFFIXES)})')
  return files


def batches(count: int, batch_size: int):
  """(start, stop) of each batch of `count` items."""
  return [(i, min(i + batch_size, count)) for i in range(0, count, batch_size)]


def batched_apply(apply, variables, arrays: tuple, batch_size: int):
  """apply(variables, *batch) over batches of batch_size of the equally long `arrays` (the last
  batch padded: one compiled shape), outputs concatenated back to host arrays of their length."""
  count = len(arrays[0])
  parts = [jax.device_get(apply(variables, *(padded(x[a:b], batch_size) for x in arrays)))
           for a, b in batches(count, batch_size)]
  return jax.tree.map(lambda *xs: np.concatenate(xs)[:count], *parts)


def padded(inputs: np.ndarray, batch_size: int) -> np.ndarray:
  """A partial batch padded with copies of its last input to batch_size (one compiled shape)."""
  return np.concatenate([inputs, np.repeat(inputs[-1:], batch_size - len(inputs), axis=0)]) if len(inputs) < batch_size else inputs
