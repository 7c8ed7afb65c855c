"""Every data source implements the written contract (vision_jax/data/source.py): each attribute
present, the optional ones None where a source has no value, detection sources DetectionSource."""

import ml_collections
import pytest
import tensorflow_datasets as tfds

from configs import common
from vision_jax.data import build_detection_source, build_source
from vision_jax.data.source import DetectionSource, Source

MEMBERS = ('num_classes', 'image_shape', 'num_eval_examples', 'mean', 'std', 'class_names', 'target_shape',
           'train_batches', 'eval_batches', 'split_images', 'target_batches')


def dataset(name, **keys):
  d = common.classification_config().dataset
  d.name = name
  d.update(keys)
  return d


def check(source, detection=False):
  assert isinstance(source, Source) and all(hasattr(source, m) for m in MEMBERS)
  assert isinstance(source, DetectionSource) == detection
  batch = next(iter(source.eval_batches()))
  assert batch['image'].shape[1:] == tuple(source.image_shape) and batch['mask'].shape == batch['image'].shape[:1]
  return source


@pytest.mark.parametrize('name, keys', [('digits', {}), ('digit_domains', {'domain': 'unpaired'}),
                                        ('photos', {'image_size': 32, 'channels': 3})])
def test_bundled_sources_implement_source(name, keys):
  source = check(build_source(dataset(name, **keys), 8, 8, 0))
  if name == 'digits':
    assert source.split_images('test').shape[0] == source.num_eval_examples
    assert source.class_names is None and source.target_shape is None and source.target_batches() is None


def test_digit_scenes_implement_detection_source():
  config = common.ssd_config().dataset
  config.num_test_scenes = 8
  source = check(build_detection_source(config, 8, 8, 0), detection=True)
  assert source.resize == 'stretch' and list(source.category_ids) == list(range(1, 11))
  assert source.coco_ground_truth is None and list(source.class_names) == list('0123456789')


def test_tfds_sources_implement_source_and_stream():
  with tfds.testing.mock_data(num_examples=8):
    source = check(build_source(dataset('mnist', image_size=28), 8, 8, 0))
  assert source.split_images('train') is None
  detection = ml_collections.ConfigDict(common.ssd_config().dataset.to_dict())
  detection.update({'name': 'voc/2007', 'image_size': 64, 'max_boxes': 4})
  with tfds.testing.mock_data(num_examples=4):
    source = check(build_detection_source(detection, 2, 2, 0), detection=True)
  assert source.category_ids is None and len(source.class_names) == 20
