"""SSD networks: feature pyramids that match the released default boxes, output shapes, and SSD on
other backbones of the registry."""

import jax
import jax.numpy as jnp
import ml_collections
import pytest

from vision_jax.detection import ssd
from vision_jax.models.backbones import L2Norm
from vision_jax.detection.default_boxes import SSD300_VOC, SSD512_VOC, default_boxes


def shapes(name, size, num_classes=20, **fields):
  model = ssd.network(ml_collections.ConfigDict({'name': name, **fields}), num_classes)
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


def test_any_backbone_with_the_levels_serves_ssd():
  """A registry backbone named in the config replaces the variant's: ResNet-18 at C4 and C5."""
  ((loc, _), features), variables = shapes('ssd_resnet50', 300, 3, backbone='resnet18')
  assert tuple(features[f'source{k}'].shape[1] for k in range(len(features))) == (19, 10, 5, 3, 2, 1)
  assert variables['params']['backbone']['layer4_1']['conv2']['kernel'].shape == (3, 3, 512, 512)


def test_a_level_the_backbone_lacks_is_named():
  with pytest.raises(ValueError, match="backbone 'tiny' has levels C2, C3, C4, not C5"):
    shapes('ssd_tiny', 128, 3, backbone='tiny', levels=('C4', 'C5'))


def test_l2norm_starts_at_twenty():
  norm = L2Norm()
  x = jnp.array([[[[3.0, 4.0]]]])
  out = norm.apply(norm.init(jax.random.PRNGKey(0), x), x)
  assert jnp.allclose(out, jnp.array([[[[12.0, 16.0]]]]))
