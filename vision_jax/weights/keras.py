"""Keras applications weights (VGG16/19, ResNet50, InceptionV3) from HDF5 files, read with h5py.

Reads the HDF5 layout that names layers: the files keras.applications downloads
(`*_weights_tf_dim_ordering_tf_kernels.h5`), `model.save_weights('w.h5')` of Keras 2 and
`model.save('m.h5')`. Keras kernels are already HWIO / (in, out), so only names change.
Keras 3's `.weights.h5` stores layers by position, not name, and is refused with a hint.
"""

import os
import re
from typing import Callable

import numpy as np

from vision_jax.errors import UserError
from vision_jax.models.inception import basic_conv_paths
from vision_jax.weights.convert import convert_state

# Keras weight name (after the layer name) -> Flax leaf.
KERAS_LEAF = {'kernel': 'kernel', 'bias': 'bias', 'gamma': 'scale', 'beta': 'bias',
              'moving_mean': 'mean', 'moving_variance': 'var'}
IDENTITY_LEAF = {leaf: leaf for leaf in ('kernel', 'bias', 'scale', 'mean', 'var')}

Layers = dict[str, dict[str, np.ndarray]]  # layer name -> {flax leaf: array}


def read_keras_h5(path: str) -> Layers:
  """{layer name: {flax leaf: array}} of every layer with weights, from a Keras HDF5 file."""
  import h5py  # deferred: h5py comes with TensorFlow/Keras, which the GPU machine lacks
  if not os.path.isfile(path):
    raise UserError(f'weights file {path} does not exist')
  try:
    f = h5py.File(path, 'r')
  except OSError as e:
    raise UserError(f'{path} is not an HDF5 file ({e})') from None
  with f:
    root = f['model_weights'] if 'model_weights' in f else f
    if 'layer_names' not in root.attrs:
      raise UserError(f'{path} has no layer names (a Keras 3 .weights.h5?): save the Keras model with '
                      "model.save('model.h5') or use the keras.applications .h5 file")
    layers = {}
    for layer in (_text(n) for n in root.attrs['layer_names']):
      group = root[layer]
      weights = {}
      for name in (_text(n) for n in group.attrs.get('weight_names', [])):
        leaf = re.sub(r'(:\d+)$', '', name).split('/')[-1]
        if leaf not in KERAS_LEAF:
          raise UserError(f'{path}: unexpected weight {name} in layer {layer}')
        weights[KERAS_LEAF[leaf]] = np.asarray(group[name])
      if weights:
        layers[layer] = weights
    return layers


def _text(name) -> str:
  return name.decode() if isinstance(name, bytes) else str(name)


def flat_state(layers: Layers, module_of: dict[str, str]) -> dict[str, np.ndarray]:
  """{'<flax module path>.<leaf>': array}: each Keras layer under the Flax module it maps to.
  Layers without a counterpart stay under their Keras name, so they surface as unexpected keys."""
  return {f'{module_of.get(layer, layer)}.{leaf}': value
          for layer, weights in layers.items() for leaf, value in weights.items()}


def vgg_modules(layers: Layers) -> dict[str, str]:
  """block{b}_conv{i} -> conv{b}_{i}; fc1, fc2, predictions -> fc6, fc7, fc8."""
  names = {'fc1': 'fc6', 'fc2': 'fc7', 'predictions': 'fc8'}
  for layer in layers:
    match = re.fullmatch(r'block(\d+)_conv(\d+)', layer)
    if match:
      names[layer] = f'conv{match[1]}_{match[2]}'
  return names


def resnet_modules(layers: Layers) -> dict[str, str]:
  """conv1_conv/bn -> conv1/bn1; conv{s}_block{b}_{k}_conv -> layer{s-1}_{b-1}/conv{k} (k = 0 is
  the projection shortcut, our downsample/conv); predictions -> fc."""
  names = {'conv1_conv': 'conv1', 'conv1_bn': 'bn1', 'predictions': 'fc'}
  for layer in layers:
    match = re.fullmatch(r'conv(\d)_block(\d+)_(\d)_(conv|bn)', layer)
    if match:
      stage, block, k, kind = int(match[1]) - 1, int(match[2]) - 1, match[3], match[4]
      module = f'downsample/{kind}' if k == '0' else f'{kind}{k}'
      names[layer] = f'layer{stage}_{block}/{module}'
  return names


def inception_modules(layers: Layers, conv_paths: list[str]) -> dict[str, str]:
  """Keras names InceptionV3's layers conv2d_N / batch_normalization_N in creation order, which is
  torchvision's (and our) module order: the k-th of each maps to the k-th BasicConv."""
  def numbered(prefix):
    found = [(int(m[1] or 0), layer) for layer in layers
             if (m := re.fullmatch(prefix + r'(?:_(\d+))?', layer))]
    return [layer for _, layer in sorted(found)]
  convs, norms = numbered('conv2d'), numbered('batch_normalization')
  if len(convs) != len(conv_paths) or len(norms) != len(conv_paths):
    raise UserError(f'the Keras file has {len(convs)} conv2d and {len(norms)} batch_normalization layers; '
                    f'InceptionV3 has {len(conv_paths)} of each')
  names = {'predictions': 'fc'}
  for conv, norm, path in zip(convs, norms, conv_paths):
    names[conv], names[norm] = f'{path}/conv', f'{path}/bn'
  return names


def load_keras(path: str, template: dict, modules: Callable[[Layers], dict[str, str]],
               skip_module=None) -> dict:
  """Flax variables for `template` from a Keras HDF5 file, layers renamed by `modules`."""
  layers = read_keras_h5(path)
  state = flat_state(layers, modules(layers))
  return convert_state(state, template, '/'.join, path, leaf_suffix=IDENTITY_LEAF,
                       layout=lambda leaf, array: array, skip_module=skip_module)


def load_keras_vgg(path: str, template: dict, skip_module=None) -> dict:
  return load_keras(path, template, vgg_modules, skip_module)


def load_keras_resnet50(path: str, template: dict, skip_module=None) -> dict:
  return load_keras(path, template, resnet_modules, skip_module)


def load_keras_inception_v3(path: str, template: dict, skip_module=None) -> dict:
  return load_keras(path, template, lambda layers: inception_modules(layers, basic_conv_paths()), skip_module)
