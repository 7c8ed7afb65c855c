"""Model registry: `build_model(config.model, num_classes)` looks up `config.model.name` among the
classifiers (and the networks they serve: FID's Inception, perceptual features). Detector networks
are built by their family (vision_jax/detection/) with `instantiate`, over models/backbones.py."""

import functools
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from vision_jax.errors import UserError
from vision_jax.models.efficientnet import EfficientNetLite
from vision_jax.models.inception import InceptionV3
from vision_jax.models.lenet import LeNet5
from vision_jax.models.resnet import cifar_resnet, resnet
from vision_jax.models.vgg import vgg
from vision_jax.ops import onednn
from vision_jax.registry import Registry

# name -> callable(num_classes=..., dtype=..., **config.model) returning a flax.linen Module.
MODELS: Registry[Callable[..., nn.Module]] = Registry('model')
MODELS.register('lenet5')(LeNet5)
MODELS.register('efficientnet_lite0')(EfficientNetLite)
MODELS.register('inception_v3')(InceptionV3)
MODELS.register('inception_v3_keras')(functools.partial(InceptionV3, bn_scale=False, pool_include_pad=False))
MODELS.register('inception_v3_fid')(functools.partial(InceptionV3, pool_include_pad=False, fid=True))
MODELS.register('resnet50_keras')(resnet(50, keras=True))
for _depth in (18, 34, 50, 101, 152):
  MODELS.register(f'resnet{_depth}')(resnet(_depth))
for _depth in (20, 32, 44, 56, 110):
  MODELS.register(f'cifar_resnet{_depth}')(cifar_resnet(_depth))
for _depth in (11, 13, 16, 19):
  MODELS.register(f'vgg{_depth}')(vgg(_depth, with_batch_norm=False))
  MODELS.register(f'vgg{_depth}_bn')(vgg(_depth, with_batch_norm=True))

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def compute_dtype(name: str) -> Any:
  """The jnp dtype for `config.model.dtype`; parameters always stay float32."""
  if name not in DTYPES:
    raise UserError(f'unknown model.dtype {name!r}; choose one of: {", ".join(DTYPES)}')
  return DTYPES[name]


def instantiate(model_cls: Callable[..., nn.Module], model_config, num_classes: int) -> nn.Module:
  """model_cls(num_classes=, dtype=, **the other keys of model_config) (lists become tuples, dicts
  (key, value) pairs). conv_impl ('auto' | 'xla' | 'onednn': the convolution its conv layers run on
  the CPU, vision_jax/ops) becomes the network's attribute; without it the network runs 'auto'.
  A key the model does not take is a UserError naming it."""
  impl = model_config.get('conv_impl')
  if impl is not None and impl not in onednn.IMPLS:
    raise UserError(f'unknown model.conv_impl {impl!r}; choose one of: {", ".join(onednn.IMPLS)}')
  kwargs = {k: constructor_value(v) for k, v in model_config.items() if k not in ('name', 'dtype')}
  try:
    return model_cls(num_classes=num_classes, dtype=compute_dtype(model_config.get('dtype', 'float32')),
                     **kwargs)
  except TypeError as e:
    raise UserError(f'bad config.model for {model_config.name!r}: {e}') from None


def constructor_value(value):
  """A config value as a (hashable) module field: lists -> tuples, dicts -> sorted (key, value) pairs."""
  if isinstance(value, (list, tuple)):
    return tuple(constructor_value(v) for v in value)
  if isinstance(value, (dict, ml_collections.ConfigDict)):
    return tuple(sorted((k, constructor_value(v)) for k, v in value.items()))
  return value


def build_model(model_config, num_classes: int) -> nn.Module:
  """Instantiates the registered model config.model.name (see instantiate)."""
  return instantiate(MODELS.get(model_config.name), model_config, num_classes)


def head_name(model_name: str) -> str:
  """The top-level module holding a model's classifier: re-initialised in transfer, kept by linear probes."""
  if model_name == 'lenet5':
    return 'head'
  if model_name.startswith('vgg'):
    return 'fc8'  # also Keras's 'predictions'
  return 'fc'
