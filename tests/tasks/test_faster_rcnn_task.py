"""Faster R-CNN through the detection task: the digit-scenes smoke run trains, evaluates (with
rpn_recall), draws and predicts; a torchvision detector file initialises the whole detector through
config.init_from (a different class count re-initialises only the class predictor); R-CNN's
min/max resize maps boxes back to the original pixels."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.helpers import load_config, metrics, predict_scene_and_check
from vision_jax.detection.boxes import resize_scale, to_image_pixels
from vision_jax.detection.families import build_detector
from vision_jax.tasks import detection, run
from vision_jax.train.state import TrainState


def test_digit_scenes_faster_rcnn_smoke_trains_evaluates_draws_and_predicts(tmp_path):
  config = load_config('digit_scenes_faster_rcnn')
  final = run(config, str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 16
  assert 0.0 <= final['rpn_recall'] <= 1.0 and 'mAP50' in final
  train = metrics(str(tmp_path), 'train')
  assert {'rpn_objectness_loss', 'rpn_box_loss', 'box_classifier_loss', 'box_regression_loss',
          'foreground_rois'} <= set(train[0])
  assert train[0]['foreground_rois'] > 0
  assert (tmp_path / 'plots' / 'predictions.png').stat().st_size > 1000

  predict_scene_and_check(config, tmp_path)


def test_torchvision_detector_file_initialises_the_whole_detector(tmp_path):
  torch = pytest.importorskip('torch')
  torchvision = pytest.importorskip('torchvision')
  torch.manual_seed(0)
  tv = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)  # 91 classes
  path = str(tmp_path / 'frcnn.pth')
  torch.save(tv.state_dict(), path)
  config = load_config('coco_faster_rcnn')
  detector = build_detector(config, 20, (64, 64, 3))  # VOC's 20 classes: the predictor must start fresh
  variables = jax.jit(detector.model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)))
  state = TrainState.create(apply_fn=detector.model.apply, params=variables['params'], tx=optax.sgd(0.1),
                            batch_stats=variables['batch_stats'])
  loaded = detection.initialize_detector(state, path, detector, (64, 64, 3))
  np.testing.assert_allclose(loaded.params['rpn']['cls_logits']['kernel'],
                             tv.rpn.head.cls_logits.weight.detach().numpy().transpose(2, 3, 1, 0))
  np.testing.assert_allclose(loaded.batch_stats['backbone']['bn1']['var'], tv.backbone.body.bn1.running_var.numpy())
  np.testing.assert_array_equal(loaded.params['cls_score']['kernel'], state.params['cls_score']['kernel'])
  assert loaded.params['cls_score']['kernel'].shape == (1024, 21)


def test_min_max_resize_maps_boxes_back_to_the_original_pixels():
  # A 480 x 640 image under (800, 1333) in a 1344 input: shorter side to 800 (scale 5/3, longer 1067).
  assert resize_scale((480, 640), (1344, 1344), ('min_max', 800, 1333)) == pytest.approx((5 / 3, 5 / 3))
  # A 300 x 1000 image: the longer side would pass 1333 at scale 8/3, so 1.333 wins.
  assert resize_scale((300, 1000), (1344, 1344), ('min_max', 800, 1333)) == pytest.approx((1.333, 1.333))
  boxes = to_image_pixels(np.array([[80.0, 160.0, 800.0, 1066.0]]), (480, 640), (1344, 1344), ('min_max', 800, 1333))
  np.testing.assert_allclose(boxes, [[48.0, 96.0, 480.0, 639.6]])


def test_min_max_resize_in_the_tfds_pipeline_matches_the_box_helpers():
  import tensorflow as tf
  from vision_jax.data.eval_inputs import resize_to_input
  image = tf.ones((300, 1000, 3))
  boxes = tf.constant([[0.0, 0.0, 1.0, 1.0]])
  resized, moved = resize_to_input(image, boxes, 1344, ('min_max', 800, 1333), np.zeros(3, np.float32))
  assert resized.shape == (1344, 1344, 3)
  content = np.asarray(resized)[..., 0] > 0.5
  assert content.sum(0).max() == 400 and content.sum(1).max() == 1333   # 300 x 1000 at scale 1.333
  np.testing.assert_allclose(moved.numpy(), [[0.0, 0.0, 400 / 1344, 1333 / 1344]], atol=1e-6)
