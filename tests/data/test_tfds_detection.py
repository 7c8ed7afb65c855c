"""TFDS detection sources under tfds.testing.mock_data, and fixed-size ground truth."""

import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from configs import coco_yolo, voc_ssd
from vision_jax.data import build_detection_source
from vision_jax.data.tfds_detection import pad_boxes


def test_pad_boxes_keeps_the_largest_and_counts_the_dropped():
  boxes = tf.constant([[0, 0, .1, .1], [0, 0, .5, .5], [0, 0, .3, .3], [0, 0, .9, .9]], tf.float32)
  labels = tf.constant([1, 2, 3, 4])
  valid = tf.constant([True, True, True, False])
  out_boxes, out_labels, out_valid, _, dropped = pad_boxes(boxes, labels, valid, tf.zeros(4, tf.bool), 2)
  assert out_labels.numpy().tolist() == [2, 3] and out_valid.numpy().all() and int(dropped) == 1
  _, labels5, valid5, _, dropped5 = pad_boxes(boxes, labels, valid, tf.zeros(4, tf.bool), 5)
  assert valid5.numpy().tolist() == [True, True, True, False, False] and int(dropped5) == 0


def test_voc_train_and_eval_batches_have_sane_fixed_shapes():
  config = voc_ssd.get_config('ssd300,smoke').dataset
  config.image_size = 64
  with tfds.testing.mock_data(num_examples=5):
    source = build_detection_source(config, 4, 4, seed=0)
    train = next(source.train_batches())
    evaluation = list(source.eval_batches())
  assert source.num_classes == 20 and source.class_names[0] == 'aeroplane'
  assert train['image'].shape == (4, 64, 64, 3) and train['boxes'].shape == (4, 8, 4)
  boxes, valid = train['boxes'][train['box_valid']], evaluation[0]['box_valid']
  assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
  assert boxes.min() >= 0 and boxes.max() <= 1
  assert sum(int(b['mask'].sum()) for b in evaluation) == 5 and valid.shape == (4, 8)
  assert {'difficult', 'image_id', 'image_hw'} <= set(evaluation[0])


def test_out_of_range_labels_fail_and_dropped_boxes_warn_once(caplog):
  import types
  import pytest
  from vision_jax.data.tfds_detection import TfdsDetectionSource
  from vision_jax.errors import UserError
  fake = types.SimpleNamespace(num_classes=3, max_boxes=2, _warned=False,
                               config=ml_collections.ConfigDict({'name': 'voc/2007'}))
  def batch(label, dropped):
    return {'labels': np.array([[label, 0]]), 'box_valid': np.array([[True, False]]), 'dropped': np.array([dropped])}
  with pytest.raises(UserError, match=r'voc/2007: box label 3 is outside \[0, 3\)'):
    list(TfdsDetectionSource._checked(fake, iter([batch(3, 0)])))
  with caplog.at_level('WARNING'):
    out = list(TfdsDetectionSource._checked(fake, iter([batch(1, 2), batch(2, 5)])))
  assert len(out) == 2 and 'dropped' not in out[0]
  assert sum('keep their 2 largest' in r.getMessage() for r in caplog.records) == 1


def test_letterbox_keeps_the_aspect_ratio_and_pads_with_the_mean():
  config = voc_ssd.get_config('ssd300,smoke').dataset
  config.image_size, config.resize = 64, 'letterbox'
  with tfds.testing.mock_data(num_examples=5):
    source = build_detection_source(config, 4, 4, seed=0)
    train = next(source.train_batches())
    batch = next(source.eval_batches())
  assert train['image'].shape == (4, 64, 64, 3)
  for image, (h, w) in zip(batch['image'], batch['image_hw']):
    scale = 64 / max(h, w)
    rows, cols = round(h * scale), round(w * scale)
    assert (rows, cols) != (64, 64) or h == w
    assert np.all(image[rows:] == 0) and np.all(image[:, cols:] == 0)  # the mean colour, normalised
    assert np.abs(image[:rows, :cols]).sum() > 0


def test_coco_eval_batches_carry_the_annotation_area_and_voc_ones_minus_one():
  # issue #15 item 12: COCO's size ranges need the dataset's segment area, not the box's.
  for name, spec in (('coco/2017', 'n,smoke'), ('voc/2007', None)):
    config = (coco_yolo.get_config(spec) if name.startswith('coco') else voc_ssd.get_config('ssd300,smoke')).dataset
    config.image_size = 64
    with tfds.testing.mock_data(num_examples=3):
      batch = next(build_detection_source(config, 4, 4, seed=0).eval_batches())
    real = batch['mask'] > 0  # the batch's padding images are all zeros
    area, valid = batch['area'][real], batch['box_valid'][real]
    assert batch['area'].shape == batch['box_valid'].shape and np.all(area[~valid] == -1)
    assert np.all(area[valid] >= 0) if name.startswith('coco') else np.all(area == -1)
