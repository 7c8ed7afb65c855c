"""The benchmarked models: input shape, classes, default batch per platform, and the builders of
their JAX (vision_jax zoo name or detector config) and PyTorch versions (benchmarks/torch_models.py,
and torchvision's own detectors where torchvision is installed)."""

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
  config: Optional[Callable] = None       # () -> the detector's ConfigDict (detectors)
  torchvision_model: Optional[Callable] = None  # () -> a torchvision detection model with its own loss

  def runs(self, framework: str) -> bool:
    """Whether this model has a version for `framework` (jax, jax_onednn, torch, torch_compile,
    torchvision)."""
    if framework.startswith('jax'):
      return True
    return (self.torchvision_model if framework == 'torchvision' else self.torch_model) is not None


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


def _ssd300_config():
  from configs import voc_ssd
  return voc_ssd.get_config('ssd300')


def _faster_rcnn_config():
  """configs/coco_faster_rcnn.py (R50-FPN, torchvision's recipe: stem and layer1 frozen, BatchNorm
  frozen) on 800 x 800 inputs, the size torchvision's transform gives them below."""
  from configs import coco_faster_rcnn
  config = coco_faster_rcnn.get_config()
  config.dataset.min_size = config.dataset.max_size = config.dataset.image_size = 800
  return config


def _retinanet_config():
  """configs/coco_retinanet.py (R50-FPN, torchvision's recipe: stem and layer1 frozen, BatchNorm
  frozen) on 800 x 800 inputs, as _faster_rcnn_config."""
  from configs import coco_retinanet
  config = coco_retinanet.get_config()
  config.dataset.min_size = config.dataset.max_size = config.dataset.image_size = 800
  return config


def _torchvision_ssd300():
  """torchvision's ssd300_vgg16 from scratch, 20 classes + background (its transform resizes to 300)."""
  from torchvision.models.detection import ssd300_vgg16
  return ssd300_vgg16(weights=None, weights_backbone=None, num_classes=21)


def _torchvision_faster_rcnn():
  """torchvision's fasterrcnn_resnet50_fpn as its recipe trains it (FrozenBatchNorm, stem and layer1
  frozen: 3 trainable stages), 80 classes + background, inputs resized to 800 x 800."""
  from torchvision.models import resnet50
  from torchvision.models.detection import FasterRCNN
  from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
  from torchvision.ops.misc import FrozenBatchNorm2d
  backbone = _resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), trainable_layers=3)
  return FasterRCNN(backbone, num_classes=81, min_size=800, max_size=800)


def _torchvision_retinanet():
  """torchvision's retinanet_resnet50_fpn as its recipe trains it (FrozenBatchNorm, 3 trainable
  stages, P6/P7 from P5), inputs resized to 800 x 800; 81 sigmoid outputs, as torchvision's COCO
  RetinaNet keeps an unused class 0, so the benchmark's labels from one fit (80 in ours)."""
  from torchvision.models import resnet50
  from torchvision.models.detection import RetinaNet
  from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
  from torchvision.ops.feature_pyramid_network import LastLevelP6P7
  from torchvision.ops.misc import FrozenBatchNorm2d
  backbone = _resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 3, returned_layers=[2, 3, 4],
                                   extra_blocks=LastLevelP6P7(256, 256))
  return RetinaNet(backbone, num_classes=81, min_size=800, max_size=800)


SPECS = {
    'lenet': Spec('classifier', (28, 28, 1), 10, 128, 1024, 'lenet5', _torch('LeNet5')),
    'resnet20': Spec('classifier', (32, 32, 3), 10, 128, 1024, 'cifar_resnet20', _torch('CifarResNet', 20)),
    'resnet50': Spec('classifier', (224, 224, 3), 1000, 16, 256, 'resnet50', _torch_resnet50),
    'vgg16': Spec('classifier', (224, 224, 3), 1000, 8, 128, 'vgg16', _torch_vgg16),
    'ssd300': Spec('detector', (300, 300, 3), 20, 8, 64, torch_model=_torch('SSD300', 20), config=_ssd300_config,
                   torchvision_model=_torchvision_ssd300),  # VOC: 20 object classes
    'faster_rcnn': Spec('detector', (800, 800, 3), 80, 1, 16, config=_faster_rcnn_config,
                        torchvision_model=_torchvision_faster_rcnn),  # COCO: 80 object classes
    'retinanet': Spec('detector', (800, 800, 3), 80, 1, 16, config=_retinanet_config,
                      torchvision_model=_torchvision_retinanet),
    'dcgan64': Spec('gan', (64, 64, 3), 1, 64, 256, torch_model=_torch_dcgan),
}
