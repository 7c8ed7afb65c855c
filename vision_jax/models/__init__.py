"""Model registry: `build_model(config.model, num_classes)` looks up `config.model.name`."""

import functools
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import UserError
from vision_jax.models.efficientnet import EfficientNetLite
from vision_jax.models.inception import InceptionV3
from vision_jax.models.lenet import LeNet5
from vision_jax.models.resnet import cifar_resnet, resnet
from vision_jax.models import ssd
from vision_jax.models.faster_rcnn import FasterRCNN
from vision_jax.models.yolo import YOLOv8
from vision_jax.models.yolov1 import YOLOv1
from vision_jax.ops import onednn
from vision_jax.models.vgg import vgg
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

# Detectors: num_classes counts object classes (background excluded).
SSD_LIGHT_EXTRAS = ((256, 512, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 2, 1), (64, 128, 3, 2, 1))
MODELS.register('ssd300_vgg16')(functools.partial(ssd.SSD, backbone='vgg16'))
MODELS.register('ssd512_vgg16')(functools.partial(ssd.SSD, backbone='vgg16', extras=ssd.SSD512_EXTRAS,
                                                  boxes_per_location=(4, 6, 6, 6, 6, 4, 4)))
MODELS.register('ssd_resnet50')(functools.partial(ssd.SSD, backbone='resnet50', extras=SSD_LIGHT_EXTRAS,
                                                  boxes_per_location=(4, 6, 6, 6, 4, 4)))
MODELS.register('ssdlite_efficientnet_lite0')(functools.partial(
    ssd.SSD, backbone='efficientnet_lite0', head='ssdlite', extras=SSD_LIGHT_EXTRAS,
    boxes_per_location=(4, 6, 6, 6, 4, 4)))
MODELS.register('faster_rcnn')(FasterRCNN)
MODELS.register('yolov8')(YOLOv8)
MODELS.register('yolov1')(YOLOv1)
MODELS.register('ssd_tiny')(functools.partial(ssd.SSD, backbone='tiny', extras=((64, 128, 3, 2, 1), (64, 128, 3, 2, 1)),
                                              boxes_per_location=(4, 6, 6, 6, 4)))

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def compute_dtype(name: str) -> Any:
  """The jnp dtype for `config.model.dtype`; parameters always stay float32."""
  if name not in DTYPES:
    raise UserError(f'unknown model.dtype {name!r}; choose one of: {", ".join(DTYPES)}')
  return DTYPES[name]


def select_conv(model_config) -> None:
  """Selects model_config.conv_impl ('auto' when absent; 'xla', 'onednn') for our conv layers
  (models/layers.Conv) in this process: tasks.run does it from the run's config first."""
  impl = model_config.get('conv_impl', 'auto')
  if impl not in onednn.IMPLS:
    raise UserError(f'unknown model.conv_impl {impl!r}; choose one of: {", ".join(onednn.IMPLS)}')
  onednn.use(impl)


def build_model(model_config, num_classes: int) -> nn.Module:
  """Instantiates the registered model; every other key of model_config is a constructor arg, except
  conv_impl ('auto' | 'xla' | 'onednn': the convolution our conv layers run on the CPU, vision_jax/ops),
  selected only where given: the auxiliary networks a run builds (a backbone to copy weights from, FID's
  Inception, perceptual features) leave the run's choice alone."""
  if 'conv_impl' in model_config:
    select_conv(model_config)
  kwargs = {k: v for k, v in model_config.items() if k not in ('name', 'dtype', 'conv_impl')}
  kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
  model_cls = MODELS.get(model_config.name)
  try:
    return model_cls(num_classes=num_classes, dtype=compute_dtype(model_config.get('dtype', 'float32')),
                     **kwargs)
  except TypeError as e:
    raise UserError(f'bad config.model for {model_config.name!r}: {e}') from None


def head_name(model_name: str) -> str:
  """The top-level module holding a model's classifier: re-initialised in transfer, kept by linear probes."""
  if model_name == 'lenet5':
    return 'head'
  if model_name.startswith('vgg'):
    return 'fc8'  # also Keras's 'predictions'
  return 'fc'
