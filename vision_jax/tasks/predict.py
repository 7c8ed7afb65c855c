"""Top-k ImageNet prediction for one image with pretrained weights (config.task == 'predict').

Prints the top classes with their names and writes WORKDIR/predictions.json:
  {"image": PATH, "top5": [{"index": 285, "name": "Egyptian cat", "prob": 0.79}, ...]}
"""

import json
import os

import jax
import numpy as np

from vision_jax import models
from vision_jax.data.images import center_crop_resize, read_rgb
from vision_jax.errors import UserError
from vision_jax.evaluation.predictions import top_k
from vision_jax.tasks.registry import TASKS
from vision_jax.weights.imagenet_classes import imagenet_class_names
from vision_jax.weights.pretrained import load_pretrained

def preprocess(image: np.ndarray, config) -> np.ndarray:
  """Center crop + resize + normalise (mean/std in 0-255 pixel units), as the weights were trained."""
  x = center_crop_resize(image, config.image_size, config.crop_fraction, config.resize_method)
  return ((x - np.asarray(config.mean, np.float32)) / np.asarray(config.std, np.float32))[None]


@TASKS.register('predict')
def run(config, workdir: str, dry_run: bool = False):
  if not config.image:
    raise UserError('no image given: add --config.image=PATH (or skimage:chelsea)')
  image = read_rgb(config.image)
  model = models.build_model(config.model, num_classes=1000)
  size = config.preprocess.image_size
  variables = load_pretrained(config.init_from, config.model.name, model, (size, size, 3))
  if dry_run:
    batch = preprocess(image, config.preprocess)
    return {'split': 'dry_run', 'parameters': int(sum(np.size(x) for x in jax.tree.leaves(variables['params']))),
            'state_mb': sum(np.asarray(x).nbytes for x in jax.tree.leaves(variables)) / 2**20,
            'batch': {'image': f'{batch.dtype.name}{list(batch.shape)}'}}
  logits, _ = jax.jit(lambda v, x: model.apply(v, x))(variables, preprocess(image, config.preprocess))
  probs = np.asarray(jax.nn.softmax(logits[0].astype(np.float32)))
  result = {'image': config.image, f'top{config.top_k}': top_k(probs, config.top_k, imagenet_class_names())}
  for rank, entry in enumerate(result[f'top{config.top_k}'], 1):
    print(f'{rank}. {entry["name"]} (class {entry["index"]}): {entry["prob"]:.4f}')
  with open(os.path.join(workdir, 'predictions.json'), 'w') as f:
    json.dump(result, f, indent=2)
  return None
