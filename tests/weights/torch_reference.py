"""Small PyTorch reference models with torchvision's and efficientnet-pytorch's parameter names.

torchvision itself cannot be imported beside the CPU torch wheel used here, so the tests
build these (the same architectures, names and padding) with random weights and random
BatchNorm statistics, convert them and compare outputs.
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


def vgg(blocks, batch_norm, num_classes):
  layers, cin = [], 3
  for widths in blocks:
    for w in widths:
      layers += [nn.Conv2d(cin, w, 3, padding=1)] + ([nn.BatchNorm2d(w)] if batch_norm else []) + [nn.ReLU()]
      cin = w
    layers.append(nn.MaxPool2d(2, 2))
  model = nn.Module()
  model.features = nn.Sequential(*layers)
  model.avgpool = nn.AdaptiveAvgPool2d(7)
  model.classifier = nn.Sequential(nn.Linear(512 * 49, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096),
                                   nn.ReLU(), nn.Dropout(), nn.Linear(4096, num_classes))
  model.forward = lambda x: model.classifier(torch.flatten(model.avgpool(model.features(x)), 1))
  return model


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
