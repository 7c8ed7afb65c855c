"""`config.init_from` for pretrained weights: a registered name or a weights file, by model family."""

import os
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import flax.linen as nn

from vision_jax.errors import UserError
from vision_jax.weights.efficientnet import lite0_imagenet_file, load_efficientnet_lite
from vision_jax.weights.keras import load_keras_inception_v3, load_keras_resnet50, load_keras_vgg
from vision_jax.train.checkpoint import latest_checkpoint, variables_from_checkpoint
from vision_jax.weights.torchvision import load_torchvision_inception, load_torchvision_resnet, load_torchvision_vgg

# Named weights that ship with an installable package: name -> (model name, path getter).
NAMED = {'efficientnet_lite0_imagenet': ('efficientnet_lite0', lite0_imagenet_file)}

# Model-name prefix -> loader(path, template) for weight files in that family's source naming.
FILE_LOADERS: dict[str, Callable[[str, dict], dict]] = {
    'efficientnet_lite': load_efficientnet_lite,  # efficientnet-pytorch naming
    'resnet': load_torchvision_resnet,             # torchvision naming
    'vgg': load_torchvision_vgg,                   # torchvision naming
    'inception_v3': load_torchvision_inception,    # torchvision naming
}


# Keras applications HDF5 files (.h5): model name -> loader. Keras's ResNet50 and InceptionV3
# differ from torchvision's (v1 strides and conv biases; BatchNorm without scale), hence own models.
KERAS_LOADERS: dict[str, Callable[[str, dict], dict]] = {
    'vgg16': load_keras_vgg, 'vgg19': load_keras_vgg,
    'resnet50_keras': load_keras_resnet50, 'inception_v3_keras': load_keras_inception_v3,
}


def variables_template(model: nn.Module, image_shape: tuple[int, ...]) -> dict:
  """Shapes and dtypes of the model's variables, without allocating them."""
  return jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, *image_shape))))


def resolve(init_from: str, model_name: str) -> tuple[str, Callable[[str, dict], dict]]:
  """(weights file, loader) for a registered name or a file path, checked against the model."""
  if init_from in NAMED:
    expected_model, path_fn = NAMED[init_from]
    if expected_model != model_name:
      raise UserError(f'init_from {init_from!r} holds {expected_model} weights, but model.name is {model_name!r}')
    path = path_fn()
  elif os.path.exists(init_from):
    path = init_from
  else:
    raise UserError(f'init_from {init_from!r} is neither a file nor one of: {", ".join(sorted(NAMED))}')
  if path.endswith(('.h5', '.hdf5')):
    if model_name not in KERAS_LOADERS:
      raise UserError(f'{path} is a Keras file; Keras importers exist for models: {", ".join(sorted(KERAS_LOADERS))}')
    return path, KERAS_LOADERS[model_name]
  loader = next((fn for prefix, fn in FILE_LOADERS.items()
                 if model_name.startswith(prefix) and not model_name.endswith('_keras')), None)
  if loader is None:
    raise UserError(f'no weight importer for model {model_name!r}; importers exist for: '
                    f'{", ".join(sorted(FILE_LOADERS))}')
  return path, loader


def load_pretrained(init_from: str, model_name: str, model: nn.Module, image_shape: tuple[int, ...],
                    skip_head: Optional[str] = None) -> dict:
  """Flax variables ({'params', 'batch_stats'}) for `model` from `init_from`: one of our own
  checkpoints (a workdir or its checkpoints/ folder), a registered name, or a weights file.
  With skip_head, that module's leaves may be absent from the result (a head to re-initialise)."""
  if os.path.isdir(init_from):
    step_dir = latest_checkpoint(init_from)
    if step_dir is None:
      raise UserError(f'init_from {init_from} is a folder without checkpoints')
    return variables_from_checkpoint(step_dir)
  path, loader = resolve(init_from, model_name)
  return loader(path, variables_template(model, image_shape), skip_module=skip_head)
