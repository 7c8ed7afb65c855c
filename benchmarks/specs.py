"""The benchmarked models: input shape, classes, default batch per platform, and the builders of
their JAX (vision_jax zoo name) and PyTorch (benchmarks/torch_models.py) versions."""

import dataclasses
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class Spec:
  kind: str                        # 'classifier' | 'detector' | 'gan'
  shape: tuple[int, int, int]      # one image, HWC
  num_classes: int
  cpu_batch: int                   # defaults sized so a step takes at most seconds on 2 CPU cores
  gpu_batch: int
  jax_model: str = ''              # vision_jax.models registry name (classifiers)
  torch_model: Optional[Callable] = None  # () -> torch.nn.Module(s); None: no PyTorch reference


def _torch(name: str, *args):
  def build():
    from benchmarks import torch_models as T
    return getattr(T, name)(*args)
  return build


def _torch_resnet50():
  from benchmarks import torch_models as T
  return T.ResNet(T.Bottleneck, [3, 4, 6, 3], 1000)


def _torch_vgg16():
  from benchmarks import torch_models as T
  return T.VGG(T.VGG16_BLOCKS, False, 1000)


def _torch_dcgan():
  from benchmarks import torch_models as T
  return T.DCGANGenerator(), T.DCGANDiscriminator()


SPECS = {
    'lenet': Spec('classifier', (28, 28, 1), 10, 128, 1024, 'lenet5', _torch('LeNet5')),
    'resnet20': Spec('classifier', (32, 32, 3), 10, 128, 1024, 'cifar_resnet20', _torch('CifarResNet', 20)),
    'resnet50': Spec('classifier', (224, 224, 3), 1000, 16, 256, 'resnet50', _torch_resnet50),
    'vgg16': Spec('classifier', (224, 224, 3), 1000, 8, 128, 'vgg16', _torch_vgg16),
    'ssd300': Spec('detector', (300, 300, 3), 20, 8, 64, torch_model=_torch('SSD300', 20)),  # VOC: 20 object classes
    'dcgan64': Spec('gan', (64, 64, 3), 1, 64, 256, torch_model=_torch_dcgan),
}
