"""PyTorch reference models: the architectures of vision_jax's zoo, written in PyTorch.

ResNet, VGG, EfficientNet-Lite and Inception-v3 carry torchvision's and efficientnet-pytorch's
parameter names (torchvision itself cannot be imported beside the CPU torch wheel used here): the
weight-import tests build them with random weights, convert and compare outputs. CifarResNet and
LeNet5 carry vision_jax's own module names (see `flax_key`), DCGAN64 is Radford et al.'s 64x64
pair. The benchmarks (benchmarks/run.py) time them against the Flax models.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


class BasicBlock(nn.Module):
  expansion = 1

  def __init__(self, cin, width, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(width)
    self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(width)
    self.downsample = None
    if stride != 1 or cin != width:
      self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))

  def forward(self, x):
    y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
    return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
  expansion = 4

  def __init__(self, cin, width, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(width)
    self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)  # v1.5: stride on the 3x3
    self.bn2 = nn.BatchNorm2d(width)
    self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
    self.bn3 = nn.BatchNorm2d(width * 4)
    self.downsample = None
    if stride != 1 or cin != width * 4:
      self.downsample = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4))

  def forward(self, x):
    y = F.relu(self.bn1(self.conv1(x)))
    y = F.relu(self.bn2(self.conv2(y)))
    y = self.bn3(self.conv3(y))
    return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
  def __init__(self, block, layers, num_classes):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
    self.bn1 = nn.BatchNorm2d(64)
    cin = 64
    for i, n in enumerate(layers):
      blocks = []
      for j in range(n):
        blocks.append(block(cin, 64 * 2 ** i, 2 if i > 0 and j == 0 else 1))
        cin = 64 * 2 ** i * block.expansion
      setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
    self.fc = nn.Linear(cin, num_classes)

  def forward(self, x):
    x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
    for i in range(4):
      x = getattr(self, f'layer{i + 1}')(x)
    return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class VGG(nn.Module):
  """torchvision's VGG: `features` (3x3 convs [+ BN], 2x2 max-pools), 7x7 average pool, classifier."""

  def __init__(self, blocks, batch_norm, num_classes):
    super().__init__()
    layers, cin = [], 3
    for widths in blocks:
      for w in widths:
        layers += [nn.Conv2d(cin, w, 3, padding=1)] + ([nn.BatchNorm2d(w)] if batch_norm else []) + [nn.ReLU()]
        cin = w
      layers.append(nn.MaxPool2d(2, 2))
    self.features = nn.Sequential(*layers)
    self.avgpool = nn.AdaptiveAvgPool2d(7)
    self.classifier = nn.Sequential(nn.Linear(512 * 49, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096),
                                    nn.ReLU(), nn.Dropout(), nn.Linear(4096, num_classes))

  def forward(self, x):
    return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def vgg(blocks, batch_norm, num_classes):
  return VGG(blocks, batch_norm, num_classes)


VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class SameConv(nn.Conv2d):
  """TensorFlow 'SAME' padding (efficientnet-pytorch's Conv2dStaticSamePadding)."""

  def forward(self, x):
    pads = []
    for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
      total = max((math.ceil(size / s) - 1) * s + k - size, 0)
      pads.append((total // 2, total - total // 2))
    x = F.pad(x, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
    return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
  def __init__(self, cin, expand, kernel, stride, cout):
    super().__init__()
    mid = cin * expand
    self.expand = expand
    if expand != 1:
      self._expand_conv = SameConv(cin, mid, 1, bias=False)
      self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
    self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
    self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
    self._project_conv = SameConv(mid, cout, 1, bias=False)
    self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)
    self.skip = stride == 1 and cin == cout

  def forward(self, x):
    y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand != 1 else x
    y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
    return y + x if self.skip else y


class EfficientNetLite(nn.Module):
  def __init__(self, stages, num_classes):
    super().__init__()
    self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
    self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
    blocks, cin = [], 32
    for expand, kernel, stride, cout, repeats in stages:
      for r in range(repeats):
        blocks.append(MBConv(cin, expand, kernel, stride if r == 0 else 1, cout))
        cin = cout
    self._blocks = nn.ModuleList(blocks)
    self._conv_head = SameConv(cin, 1280, 1, bias=False)
    self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
    self._fc = nn.Linear(1280, num_classes)

  def forward(self, x):
    x = F.relu6(self._bn0(self._conv_stem(x)))
    for block in self._blocks:
      x = block(x)
    x = F.relu6(self._bn1(self._conv_head(x)))
    return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class BasicConv2d(nn.Module):
  def __init__(self, cin, cout, **kwargs):
    super().__init__()
    self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
    self.bn = nn.BatchNorm2d(cout, eps=0.001)

  def forward(self, x):
    return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
  def __init__(self, cin, pool_features):
    super().__init__()
    self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
    self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
    self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
    self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
    self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
    self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

  def forward(self, x):
    return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                      self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                      self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)


class InceptionB(nn.Module):
  def __init__(self, cin):
    super().__init__()
    self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
    self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
    self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

  def forward(self, x):
    return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                      F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
  def __init__(self, cin, c7):
    super().__init__()
    self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
    self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
    self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
    self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
    self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

  def forward(self, x):
    b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
    bd = x
    for i in range(1, 6):
      bd = getattr(self, f'branch7x7dbl_{i}')(bd)
    return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)


class InceptionD(nn.Module):
  def __init__(self, cin):
    super().__init__()
    self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
    self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
    self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
    self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

  def forward(self, x):
    b7 = x
    for i in range(1, 5):
      b7 = getattr(self, f'branch7x7x3_{i}')(b7)
    return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
  def __init__(self, cin):
    super().__init__()
    self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
    self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
    self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
    self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
    self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
    self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
    self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
    self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

  def forward(self, x):
    b3 = self.branch3x3_1(x)
    bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
    return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                      self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd),
                      self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)


class InceptionAux(nn.Module):
  """Present only so that state_dicts carry torchvision's AuxLogits keys."""

  def __init__(self, cin, num_classes):
    super().__init__()
    self.conv0 = BasicConv2d(cin, 128, kernel_size=1)
    self.conv1 = BasicConv2d(128, 768, kernel_size=5)
    self.fc = nn.Linear(768, num_classes)


class Inception3(nn.Module):
  """torchvision.models.Inception3(aux_logits=True, transform_input=False), in eval mode."""

  def __init__(self, num_classes):
    super().__init__()
    self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
    self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
    self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
    self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
    self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
    self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64)
    self.Mixed_6a = InceptionB(288)
    self.Mixed_6b, self.Mixed_6c = InceptionC(768, 128), InceptionC(768, 160)
    self.Mixed_6d, self.Mixed_6e = InceptionC(768, 160), InceptionC(768, 192)
    self.AuxLogits = InceptionAux(768, num_classes)
    self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = InceptionD(768), InceptionE(1280), InceptionE(2048)
    self.fc = nn.Linear(2048, num_classes)

  def forward(self, x):
    x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
    x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
    x = F.max_pool2d(x, 3, 2)
    for name in ('5b', '5c', '5d', '6a', '6b', '6c', '6d', '6e', '7a', '7b', '7c'):
      x = getattr(self, f'Mixed_{name}')(x)
    return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomise_batch_norm(model: nn.Module, seed: int = 0) -> nn.Module:
  """Random affine parameters and running statistics, so the conversion of each is exercised."""
  generator = torch.Generator().manual_seed(seed)
  for module in model.modules():
    if isinstance(module, nn.BatchNorm2d):
      n = module.num_features
      module.weight.data = torch.rand(n, generator=generator) + 0.5
      module.bias.data = torch.randn(n, generator=generator) * 0.1
      module.running_mean.data = torch.randn(n, generator=generator) * 0.1
      module.running_var.data = torch.rand(n, generator=generator) + 0.5
  return model.eval()


def flax_key(module_path: tuple) -> str:
  """The PyTorch name of a Flax module in CifarResNet/LeNet5 below: the same names, dot-joined."""
  return '.'.join(module_path)


class CifarBasicBlock(BasicBlock):
  """He et al.'s CIFAR block; option A shortcut: stride-2 subsampling, zero-padded channels."""

  def __init__(self, cin, width, stride):
    super().__init__(cin, width, stride)
    self.downsample = None  # parameter-free shortcut
    self.stride, self.extra = stride, width - cin

  def forward(self, x):
    y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
    if self.stride != 1 or self.extra:
      x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
    return F.relu(y + x)


class CifarResNet(nn.Module):
  """CIFAR ResNet-(6n+2) with vision_jax.models.resnet.CifarResNet's module names."""

  def __init__(self, depth=20, num_classes=10):
    super().__init__()
    n = (depth - 2) // 6
    self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(16)
    self.blocks, cin = [], 16
    for i, width in enumerate((16, 32, 64)):
      for j in range(n):
        name = f'layer{i + 1}_{j}'
        setattr(self, name, CifarBasicBlock(cin, width, 2 if i > 0 and j == 0 else 1))
        self.blocks.append(name)
        cin = width
    self.fc = nn.Linear(64, num_classes)

  def forward(self, x):
    x = F.relu(self.bn1(self.conv1(x)))
    for name in self.blocks:
      x = getattr(self, name)(x)
    return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class LeNet5(nn.Module):
  """vision_jax.models.lenet.LeNet5 (SAME 5x5 conv, pool, VALID 5x5 conv, pool, 120, 84, head)."""

  def __init__(self, num_classes=10, channels=1, size=28):
    super().__init__()
    self.conv1 = nn.Conv2d(channels, 6, 5, padding=2)
    self.conv2 = nn.Conv2d(6, 16, 5)
    flat = 16 * ((size // 2 - 4) // 2) ** 2
    self.fc1 = nn.Linear(flat, 120)
    self.fc2 = nn.Linear(120, 84)
    self.head = nn.Linear(84, num_classes)

  def forward(self, x):
    x = F.max_pool2d(F.relu(self.conv1(x)), 2)
    x = F.max_pool2d(F.relu(self.conv2(x)), 2)
    # Flax flattens NHWC: flatten in (H, W, C) order so the same fc1 weights apply.
    x = torch.flatten(x.permute(0, 2, 3, 1), 1)
    return self.head(F.relu(self.fc2(F.relu(self.fc1(x)))))


class DCGANGenerator(nn.Module):
  """z -> 64x64 images: project to 4x4x512, four stride-2 transposed convs (BN, ReLU), tanh."""

  def __init__(self, latent=100, widths=(512, 256, 128, 64), channels=3):
    super().__init__()
    self.project = nn.Linear(latent, 16 * widths[0], bias=False)
    self.bn0 = nn.BatchNorm2d(widths[0])
    layers = []
    for cin, cout in zip(widths, widths[1:]):
      layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    layers.append(nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1))
    self.up = nn.Sequential(*layers)
    self.width = widths[0]

  def forward(self, z):
    x = F.relu(self.bn0(self.project(z).view(-1, self.width, 4, 4)))
    return torch.tanh(self.up(x))


class DCGANDiscriminator(nn.Module):
  """64x64 images -> logits: four stride-2 4x4 convs (BN after the first), LeakyReLU 0.2, linear."""

  def __init__(self, widths=(64, 128, 256, 512), channels=3):
    super().__init__()
    layers, cin = [], channels
    for i, w in enumerate(widths):
      layers += [nn.Conv2d(cin, w, 4, 2, 1, bias=i == 0)] + ([nn.BatchNorm2d(w)] if i else []) + [nn.LeakyReLU(0.2)]
      cin = w
    self.down = nn.Sequential(*layers)
    self.logit = nn.Linear(16 * widths[-1], 1)

  def forward(self, x):
    return self.logit(torch.flatten(self.down(x), 1))[:, 0]


class L2Norm(nn.Module):
  def __init__(self, channels, scale=20.0):
    super().__init__()
    self.weight = nn.Parameter(torch.full((channels,), scale))

  def forward(self, x):
    return x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10) * self.weight[None, :, None, None]


class SSD300(nn.Module):
  """SSD300 on VGG-16 as vision_jax.models.ssd builds it: ceil-mode pools, pool5 3x3/1, conv6
  (3x3, dilation 6, 1024), conv7 (1x1), L2Norm(20) on conv4_3, four extra blocks, 3x3 heads."""

  def __init__(self, num_classes=20, boxes=(4, 6, 6, 6, 4, 4)):
    super().__init__()
    layers, cin, self.conv4_3 = [], 3, 0
    for b, widths in enumerate(VGG16_BLOCKS):
      for w in widths:
        layers += [nn.Conv2d(cin, w, 3, padding=1), nn.ReLU()]
        cin = w
      if b == 3:
        self.conv4_3 = len(layers)
      layers.append(nn.MaxPool2d(2, 2, ceil_mode=True) if b < 4 else nn.MaxPool2d(3, 1, 1, ceil_mode=True))
    self.vgg = nn.Sequential(*layers)
    self.norm = L2Norm(512)
    self.fc = nn.Sequential(nn.Conv2d(512, 1024, 3, padding=6, dilation=6), nn.ReLU(), nn.Conv2d(1024, 1024, 1), nn.ReLU())
    extras, cin = [], 1024
    for mid, out, kernel, stride, pad in ((256, 512, 3, 2, 1), (128, 256, 3, 2, 1), (128, 256, 3, 1, 0), (128, 256, 3, 1, 0)):
      extras.append(nn.Sequential(nn.Conv2d(cin, mid, 1), nn.ReLU(), nn.Conv2d(mid, out, kernel, stride, pad), nn.ReLU()))
      cin = out
    self.extras = nn.ModuleList(extras)
    channels = (512, 1024, 512, 256, 256, 256)
    self.loc = nn.ModuleList(nn.Conv2d(c, n * 4, 3, padding=1) for c, n in zip(channels, boxes))
    self.cls = nn.ModuleList(nn.Conv2d(c, n * (num_classes + 1), 3, padding=1) for c, n in zip(channels, boxes))
    self.num_classes = num_classes

  def forward(self, x):
    x = self.vgg[:self.conv4_3](x)
    sources = [self.norm(x)]
    x = self.fc(self.vgg[self.conv4_3:](x))
    sources.append(x)
    for extra in self.extras:
      x = extra(x)
      sources.append(x)
    locs = [l(s).permute(0, 2, 3, 1).reshape(s.shape[0], -1, 4) for l, s in zip(self.loc, sources)]
    logits = [c(s).permute(0, 2, 3, 1).reshape(s.shape[0], -1, self.num_classes + 1) for c, s in zip(self.cls, sources)]
    return torch.cat(locs, 1), torch.cat(logits, 1)
