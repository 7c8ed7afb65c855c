"""Converted PyTorch weights give the same outputs in Flax (max relative error <= 1e-4, float32)."""

import jax
import ml_collections
import numpy as np
import pytest
import torch

from benchmarks import torch_models as ref
from vision_jax import models
from vision_jax.models.efficientnet import LITE0_STAGES
from vision_jax.models.vgg import VGG_BLOCKS
from vision_jax.weights.pretrained import load_pretrained


def max_relative_error(ours, theirs):
  return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


CASES = {
    'resnet18': lambda: ref.ResNet(ref.BasicBlock, [2, 2, 2, 2], 10),
    'resnet50': lambda: ref.ResNet(ref.Bottleneck, [3, 4, 6, 3], 10),
    'vgg11_bn': lambda: ref.vgg(VGG_BLOCKS[11], True, 10),
    'vgg11': lambda: ref.vgg(VGG_BLOCKS[11], False, 10),
    'efficientnet_lite0': lambda: ref.EfficientNetLite(LITE0_STAGES, 10),
    'inception_v3': lambda: ref.Inception3(10),
}


@pytest.mark.parametrize('name, size', [('resnet18', 64), ('resnet50', 64), ('vgg11_bn', 64), ('vgg11', 32),
                                        ('efficientnet_lite0', 67), ('inception_v3', 139)])
def test_pytorch_reference_and_converted_flax_agree(tmp_path, name, size):
  torch.manual_seed(0)
  reference = ref.randomise_batch_norm(CASES[name]())
  path = tmp_path / f'{name}.pth'
  torch.save(reference.state_dict(), path)
  x = np.random.default_rng(0).normal(size=(2, size, size, 3)).astype(np.float32)
  with torch.no_grad():
    expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
  model = models.build_model(ml_collections.ConfigDict({'name': name}), 10)
  variables = load_pretrained(str(path), name, model, (size, size, 3))
  logits, _ = jax.jit(lambda v, x: model.apply(v, x))(variables, x)
  assert max_relative_error(np.asarray(logits), expected) <= 1e-4
