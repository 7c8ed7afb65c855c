"""FID/KID features: Inception-v3 pool3 (2,048-d) from a user-supplied weights file, imported by the
zoo's importers (pytorch-fid's pt_inception weights or torchvision's inception_v3 .pth as
`inception_v3_fid`, Keras InceptionV3 .h5 as `inception_v3_keras`).

Resizing: images in [-1, 1] (grey repeated to RGB) are resized bilinearly (half-pixel centres,
as pytorch-fid's F.interpolate(align_corners=False)) to 299x299 before the network.
"""

import os

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vision_jax import models
from vision_jax.weights.pretrained import load_pretrained, variables_template


def fid_model_name(weights: str) -> str:
  return 'inception_v3_keras' if weights.endswith(('.h5', '.hdf5')) else 'inception_v3_fid'


def make_fid_features(weights: str, image_size: int = 299):
  """features(images (B, H, W, C) in [-1, 1]) -> (B, 2048) float32 pool3 features."""
  name = fid_model_name(weights)
  model = models.build_model(ml_collections.ConfigDict({'name': name}), 1000)
  shape = (image_size, image_size, 3)
  loaded = load_pretrained(weights, name, model, shape, skip_head='fc')  # the classifier is unused
  # Zeros for what the file may lack (the classifier): shapes only, as initialising Inception
  # eagerly (~20 s) or compiled (~13 s) would cost more than the whole evaluation.
  template = variables_template(model, shape)
  flat = {k: jnp.zeros(v.shape, v.dtype) for k, v in flax.traverse_util.flatten_dict(template).items()}
  flat.update(flax.traverse_util.flatten_dict(flax.core.unfreeze(loaded)))
  variables = flax.traverse_util.unflatten_dict(flat)

  def features(images):
    images = images.astype(jnp.float32)
    if images.shape[-1] == 1:
      images = jnp.repeat(images, 3, axis=-1)
    images = jax.image.resize(images, (images.shape[0], *shape), 'bilinear')
    _, out = model.apply(variables, images, train=False)
    return out['pool']
  return features


def cached_features(path: str, compute) -> np.ndarray:
  """Features stored at `path` (.npy), computed once by compute()."""
  if os.path.exists(path):
    return np.load(path)
  features = np.asarray(compute(), np.float32)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  np.save(path, features)
  return features
