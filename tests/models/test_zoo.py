"""The CNN zoo: published parameter counts, output shapes and named features."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from vision_jax import models


def build(name, num_classes=1000, **kwargs):
  return models.build_model(ml_collections.ConfigDict({'name': name, **kwargs}), num_classes)


def param_count(model, size):
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, size, size, 3))))
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes['params']))


# torchvision's counts for the ImageNet models; He et al. 2016 (option A) for CIFAR ResNets
# (0.27M / 0.46M / 0.66M / 0.85M / 1.7M); the Lite0 file's own count.
@pytest.mark.parametrize('name, size, num_classes, expected', [
    ('resnet18', 224, 1000, 11_689_512), ('resnet34', 224, 1000, 21_797_672),
    ('resnet50', 224, 1000, 25_557_032), ('resnet101', 224, 1000, 44_549_160),
    ('resnet152', 224, 1000, 60_192_808),
    ('cifar_resnet20', 32, 10, 269_722), ('cifar_resnet32', 32, 10, 464_154),
    ('cifar_resnet44', 32, 10, 658_586), ('cifar_resnet56', 32, 10, 853_018),
    ('cifar_resnet110', 32, 10, 1_727_962),
    ('vgg11', 224, 1000, 132_863_336), ('vgg13', 224, 1000, 133_047_848),
    ('vgg16', 224, 1000, 138_357_544), ('vgg19', 224, 1000, 143_667_240),
    ('vgg11_bn', 224, 1000, 132_868_840), ('vgg13_bn', 224, 1000, 133_053_736),
    ('vgg16_bn', 224, 1000, 138_365_992), ('vgg19_bn', 224, 1000, 143_678_248),
    ('efficientnet_lite0', 224, 1000, 4_652_008),
    ('inception_v3', 299, 1000, 23_834_568),  # torchvision's 27,161,264 less its AuxLogits 3,326,696
])
def test_parameter_counts_match_published(name, size, num_classes, expected):
  assert param_count(build(name, num_classes), size) == expected


@pytest.mark.parametrize('name, size, kwargs, feature, feature_shape', [
    ('cifar_resnet20', 32, {}, 'stage3', (2, 8, 8, 64)),
    ('cifar_resnet20', 32, {'shortcut': 'B'}, 'stage2', (2, 16, 16, 32)),
    ('resnet18', 64, {}, 'stage4', (2, 2, 2, 512)),
    ('vgg11_bn', 32, {'head': 'cifar'}, 'conv4_2', (2, 4, 4, 512)),
    ('efficientnet_lite0', 64, {}, 'stage7', (2, 2, 2, 320)),
])
def test_forward_in_train_mode_updates_batch_stats(name, size, kwargs, feature, feature_shape):
  model = build(name, 7, **kwargs)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, size, size, 3))
  # Jitted: op by op, EfficientNet-Lite0's train-mode forward compiled each of its ops apart (120 s).
  variables = jax.jit(model.init)(jax.random.PRNGKey(0), x)
  train_forward = jax.jit(lambda v, x, rng: model.apply(v, x, train=True, mutable=['batch_stats'],
                                                        rngs={'dropout': rng}))
  (logits, features), updates = train_forward(variables, x, jax.random.PRNGKey(2))
  assert logits.shape == (2, 7) and features[feature].shape == feature_shape
  before, after = jax.tree.leaves(variables['batch_stats']), jax.tree.leaves(updates['batch_stats'])
  assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_keras_inception_v3_counts_like_keras_applications():
  """keras.applications.InceptionV3(): 23,851,784 weights, BatchNorm statistics included."""
  model = build('inception_v3', bn_scale=False, pool_include_pad=False)
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 299, 299, 3))))
  assert sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes)) == 23_851_784
  _, features = jax.eval_shape(model.apply, shapes, jnp.zeros((1, 299, 299, 3)))
  assert features['pool'].shape == (1, 2048) and features['Mixed_7c'].shape == (1, 8, 8, 2048)


def test_option_a_shortcut_has_no_parameters_and_option_b_projects():
  assert param_count(build('cifar_resnet20', 10, shortcut='B'), 32) > param_count(build('cifar_resnet20', 10), 32)


@pytest.mark.parametrize('size, kernel, stride', [(9, 3, 1), (9, 5, 2), (8, 3, 2), (7, 5, 2)])
def test_depthwise_shifts_equal_grouped_convolution(size, kernel, stride):
  from vision_jax.models.layers import DepthwiseConv
  x = jax.random.normal(jax.random.PRNGKey(0), (2, size, size, 6))
  conv = DepthwiseConv(kernel, stride, impl='conv')
  variables = conv.init(jax.random.PRNGKey(1), x)
  shifts = DepthwiseConv(kernel, stride, impl='shifts')
  np.testing.assert_allclose(shifts.apply(variables, x), conv.apply(variables, x), rtol=1e-5, atol=1e-5)
  grad = lambda m: jax.grad(lambda v: (m.apply(v, x) ** 2).sum())(variables)['params']['kernel']
  np.testing.assert_allclose(grad(shifts), grad(conv), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('size, kernel, stride, padding', [
    (4, 4, 2, 'SAME'), (5, 3, 2, 'SAME'), (1, 4, 1, 'VALID'), (4, 4, 2, 'VALID'), (4, 5, 3, 'SAME'),
    (4, 4, 2, ((1, 1), (1, 1))), (6, 1, 2, 'SAME')])
def test_transposed_convolution_by_phases_equals_flax_and_its_gradients(size, kernel, stride, padding):
  """layers.ConvTranspose (the CPU's sub-pixel form) computes nn.ConvTranspose's output and gradients."""
  import flax.linen as nn
  from vision_jax.models.layers import ConvTranspose
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, size, size + 1, 3)), jnp.float32)
  reference = nn.ConvTranspose(4, (kernel, kernel), strides=(stride, stride), padding=padding)
  ours = ConvTranspose(4, (kernel, kernel), strides=(stride, stride), padding=padding, impl='phases')
  variables = reference.init(jax.random.PRNGKey(0), x)
  assert jax.tree.map(jnp.shape, ours.init(jax.random.PRNGKey(0), x)) == jax.tree.map(jnp.shape, variables)
  np.testing.assert_allclose(ours.apply(variables, x), reference.apply(variables, x), atol=1e-5)
  loss = lambda module: jax.grad(lambda v, x: jnp.sum(jnp.sin(module.apply(v, x))), argnums=(0, 1))(variables, x)
  for a, b in zip(jax.tree.leaves(loss(ours)), jax.tree.leaves(loss(reference))):
    np.testing.assert_allclose(a, b, atol=1e-4)
