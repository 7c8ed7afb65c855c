"""torchvision naming for ResNet (v1.5, 18-152), VGG (11-19, +BN) and Inception-v3 state_dicts."""

import re

from vision_jax.weights.convert import convert_state, load_torch_state_dict


def resnet_key(module_path: tuple) -> str:
  """('layer2_0', 'downsample', 'bn') -> 'layer2.0.downsample.1'; ('conv1',) -> 'conv1'."""
  parts = []
  for name in module_path:
    block = re.fullmatch(r'layer(\d+)_(\d+)', name)
    if block:
      parts.append(f'layer{block[1]}.{block[2]}')
    elif name == 'downsample':
      continue
    elif module_path[-2:-1] == ('downsample',):
      parts.append('downsample.' + {'conv': '0', 'bn': '1'}[name])
    else:
      parts.append(name)
  return '.'.join(parts)


def vgg_key_fn(params: dict):
  """Maps VGG modules to torchvision's `features.N` / `classifier.N` indices for this layout."""
  convs = sorted((tuple(map(int, name[4:].split('_'))) for name in params if name.startswith('conv')))
  has_bn = any(name.startswith('bn') for name in params)
  index, names, block = 0, {}, convs[0][0]
  for b, i in convs:
    if b != block:
      index += 1  # the max-pool closing the previous block
      block = b
    names[f'conv{b}_{i}'] = f'features.{index}'
    index += 1
    if has_bn:
      names[f'bn{b}_{i}'] = f'features.{index}'
      index += 1
    index += 1  # ReLU
  names.update({'fc6': 'classifier.0', 'fc7': 'classifier.3', 'fc8': 'classifier.6'})

  def key(module_path: tuple) -> str:
    return names[module_path[0]]
  return key


def load_torchvision_resnet(path: str, template: dict, skip_module=None) -> dict:
  return convert_state(load_torch_state_dict(path), template, resnet_key, path, skip_module=skip_module)


def chw_to_hwc_rows(weight, channels: int):
  """fc6 reads features flattened as (C, H, W) in PyTorch but (H, W, C) in Flax: reorder its inputs."""
  out, n = weight.shape
  side = int(round((n // channels) ** 0.5))
  return weight.reshape(out, channels, side, side).transpose(0, 2, 3, 1).reshape(out, n)


def load_torchvision_vgg(path: str, template: dict, skip_module=None) -> dict:
  state = load_torch_state_dict(path)
  fc6 = state.get('classifier.0.weight')
  if fc6 is not None and 'fc6' in template['params'] and fc6.shape[1] % 512 == 0:
    state['classifier.0.weight'] = chw_to_hwc_rows(fc6, 512)
  return convert_state(state, template, vgg_key_fn(template['params']), path, skip_module=skip_module)


def load_torchvision_inception(path: str, template: dict, skip_module=None) -> dict:
  """torchvision's inception_v3 names map one to one; its auxiliary classifier is not part of
  our model and is dropped."""
  state = {k: v for k, v in load_torch_state_dict(path).items() if not k.startswith('AuxLogits.')}
  return convert_state(state, template, '.'.join, path, skip_module=skip_module)
