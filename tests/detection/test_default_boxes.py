"""Default boxes of the released SSD configurations: counts, order and positions."""

import ml_collections
import numpy as np
import pytest

from vision_jax.detection.default_boxes import (SSD300_COCO, SSD300_VOC, SSD512_COCO, SSD512_VOC,
                                                default_boxes, spec_from_config)


@pytest.mark.parametrize('spec, count', [(SSD300_VOC, 8732), (SSD300_COCO, 8732), (SSD512_VOC, 24564),
                                         (SSD512_COCO, 24564)])
def test_counts(spec, count):
  boxes = default_boxes(spec)
  assert boxes.shape == (count, 4) and boxes.min() >= 0 and boxes.max() <= 1


def test_first_location_of_ssd300_voc_matches_ssd_pytorch():
  boxes = default_boxes(SSD300_VOC)
  c = 0.5 * 8 / 300
  s, s2, r = 30 / 300, np.sqrt(30 / 300 * 60 / 300), np.sqrt(2)
  expected = [[c, c, s, s], [c, c, s2, s2], [c, c, s / r, s * r], [c, c, s * r, s / r]]
  np.testing.assert_allclose(boxes[:4], expected, rtol=1e-6)
  # The next location moves one step right (x), same row.
  np.testing.assert_allclose(boxes[4], [c, c + 8 / 300, s, s], rtol=1e-6)
  # The last box: the 1x1 map, centre of the image, the flipped 2:1 box of size 264, clipped to 1.
  np.testing.assert_allclose(boxes[-1], [0.5, 0.5, min(1, 264 / 300 * r), 264 / 300 / r], rtol=1e-6)


def test_any_input_size_and_pyramid_from_a_config():
  config = ml_collections.ConfigDict({'min_sizes': [12, 24, 48], 'max_sizes': [24, 48, 96],
                                     'aspect_ratios': [[2], [2, 3], [2]]})
  spec = spec_from_config(config, 128, (16, 8, 4))
  boxes = default_boxes(spec)
  assert boxes.shape == (16 * 16 * 4 + 8 * 8 * 6 + 4 * 4 * 4, 4)
  np.testing.assert_allclose(boxes[0, :2], [0.5 / 16, 0.5 / 16])  # step defaults to 128 / 16


def test_voc_ssd512_config_has_the_released_caffe_layout():
  # issue #15 item 11: conv4_3's max size is Caffe's 51.2 (min_dim * 10 / 100), not the chained 76.8.
  from configs import voc_ssd
  ratios = range(15, 91, 15)  # ssd_pascal_512.py: min_ratio 15, max_ratio 90, step 15
  released_min = [512 * 4 / 100] + [512 * r / 100 for r in ratios]
  released_max = [512 * 10 / 100] + [512 * (r + 15) / 100 for r in ratios]
  config = voc_ssd.get_config('ssd512').default_boxes
  np.testing.assert_allclose(config.min_sizes, released_min)
  np.testing.assert_allclose(config.max_sizes, released_max)
  spec = spec_from_config(config, 512, (64, 32, 16, 8, 4, 2, 1))
  np.testing.assert_allclose(default_boxes(spec), default_boxes(SSD512_VOC))
  first_extra = default_boxes(spec)[1]  # conv4_3's second box: sqrt(min * max)
  np.testing.assert_allclose(first_extra[2:], [np.sqrt(20.48 * 51.2) / 512] * 2, rtol=1e-6)
