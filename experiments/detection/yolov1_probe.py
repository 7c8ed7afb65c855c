"""Where does YOLOv1's class term go? Reads a trained digit-scenes YOLOv1 workdir and prints, on
200 test scenes: the share of object cells whose class YOLOv1 names right (argmax of the cell's
class outputs), each loss term's size, and the gradient norm each term sends into each layer group
(trunk, fc1, fc2's class rows, fc2's box rows), train mode with dropout as in training.

  python experiments/detection/yolov1_probe.py WORKDIR
"""

import sys

import flax
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, __file__.rsplit('/experiments/', 1)[0])

from vision_jax.data.digit_scenes import scene_batch  # noqa: E402
from vision_jax.detection.yolov1 import cell_targets, yolov1_loss  # noqa: E402
from vision_jax.inference import load  # noqa: E402

TERMS = ('coord_loss', 'object_loss', 'noobject_loss', 'class_loss')


def group_norms(grads: dict, num_classes: int, grid: int) -> dict:
  """Gradient norms by layer group; fc2's columns split into class and box/confidence outputs."""
  flat = flax.traverse_util.flatten_dict(grads)
  trunk = sum(float(jnp.sum(v ** 2)) for k, v in flat.items() if k[0].startswith(('conv', 'bn')))
  fc1 = sum(float(jnp.sum(v ** 2)) for k, v in flat.items() if k[0] == 'fc1')
  kernel = flat[('fc2', 'kernel')].reshape(-1, grid, grid, flat[('fc2', 'kernel')].shape[-1] // grid // grid)
  cls = float(jnp.sum(kernel[..., -num_classes:] ** 2))
  box = float(jnp.sum(kernel[..., :-num_classes] ** 2))
  return {'trunk': trunk ** 0.5, 'fc1': fc1 ** 0.5, 'fc2_class': cls ** 0.5, 'fc2_box': box ** 0.5}


def main(workdir: str):
  predictor = load(workdir)
  config, model = predictor.config, predictor.detector.model
  batch = scene_batch('test', 0, 200, 1)
  images = ((batch['image'] - config.dataset.mean[0]) / config.dataset.std[0]).astype(np.float32)
  variables = predictor.variables
  outputs = model.apply(variables, images, train=False)
  grid = outputs['scores'].shape[1]
  targets = jax.vmap(lambda b, l, v: cell_targets(b, l, v, grid))(batch['boxes'], batch['labels'], batch['box_valid'])
  objects = np.asarray(targets['object'])
  right = np.asarray(outputs['scores']).argmax(-1) == np.asarray(targets['labels'])
  print(f'object cells: {objects.sum()}; class named right: {right[objects].mean():.4f} (chance 0.10)')
  terms = yolov1_loss(outputs, batch['boxes'], batch['labels'], batch['box_valid'])
  print('eval-mode terms per image:', {k: round(float(terms[k]), 4) for k in TERMS})

  def term(params, name, rng):
    out, _ = model.apply({**variables, 'params': params}, images, train=True, rngs={'dropout': rng},
                         mutable=['batch_stats'])
    t = yolov1_loss(out, batch['boxes'], batch['labels'], batch['box_valid'])
    weight = {'coord_loss': 5.0, 'noobject_loss': 0.5}.get(name, 1.0)
    return weight * t[name]
  if config.model.get('head', 'fc') != 'fc':
    return
  for name in TERMS:
    grads = jax.grad(term)(variables['params'], name, jax.random.PRNGKey(0))
    norms = group_norms(grads, predictor.source.num_classes, grid)
    print(f'{name:14s} grad norms (weighted):', {k: f'{v:.4g}' for k, v in norms.items()})


if __name__ == '__main__':
  main(sys.argv[1])
