"""SSD models: feature pyramids that match the released default boxes, and output shapes."""

import jax
import jax.numpy as jnp
import ml_collections
import pytest

from vision_jax import models
from vision_jax.detection.default_boxes import SSD300_VOC, SSD512_VOC, default_boxes


def shapes(name, size, num_classes=20):
  model = models.build_model(ml_collections.ConfigDict({'name': name}), num_classes)
  x = jnp.zeros((1, size, size, 3))
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
  return jax.eval_shape(model.apply, variables, x), variables


@pytest.mark.parametrize('name, size, spec', [('ssd300_vgg16', 300, SSD300_VOC), ('ssd512_vgg16', 512, SSD512_VOC)])
def test_vgg_ssd_pyramid_and_box_count_match_the_release(name, size, spec):
  ((loc, logits), features), variables = shapes(name, size)
  assert tuple(features[f'source{k}'].shape[1] for k in range(len(features))) == spec.feature_maps
  count = len(default_boxes(spec))
  assert loc.shape == (1, count, 4) and logits.shape == (1, count, 21)
  params = variables['params']
  assert params['backbone']['conv6']['kernel'].shape == (3, 3, 512, 1024)
  assert params['backbone']['conv4_3_norm']['scale'].shape == (512,)


@pytest.mark.parametrize('name, size, maps', [('ssd_resnet50', 300, (19, 10, 5, 3, 2, 1)),
                                              ('ssdlite_efficientnet_lite0', 320, (20, 10, 5, 3, 2, 1)),
                                              ('ssd_tiny', 128, (32, 16, 8, 4, 2))])
def test_backbone_ssds_give_a_pyramid(name, size, maps):
  ((loc, logits), features), _ = shapes(name, size, 3)
  assert tuple(features[f'source{k}'].shape[1] for k in range(len(features))) == maps
  assert loc.shape[1] == logits.shape[1] and logits.shape[-1] == 4


def test_l2norm_starts_at_twenty():
  norm = models.ssd.L2Norm()
  x = jnp.array([[[[3.0, 4.0]]]])
  out = norm.apply(norm.init(jax.random.PRNGKey(0), x), x)
  assert jnp.allclose(out, jnp.array([[[[12.0, 16.0]]]]))
