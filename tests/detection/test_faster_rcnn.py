"""Faster R-CNN's box-head targets, loss and inference, sampling keyed by the step, and the bad
inputs a detector meets: images without boxes, sub-pixel boxes, many ground truth boxes, an image
smaller than its anchors. Each must give a finite loss and gradients."""

import functools
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from vision_jax.detection import coders
from vision_jax.detection.faster_rcnn import PADDING, FasterRCNN, box_head_loss, detect, sample_rois
from vision_jax.detection.families import build_detector
from vision_jax.errors import ConfigError
from vision_jax.train.steps import apply_for_training

GT = jnp.array([[10.0, 10.0, 40.0, 40.0], [50.0, 60.0, 90.0, 100.0], [0.0, 0.0, 0.0, 0.0]])
GT_LABELS = jnp.array([3, 7, 0])
GT_VALID = jnp.array([True, True, False])


def proposals_around(boxes, count, key=0):
  jitter = jax.random.uniform(jax.random.PRNGKey(key), (count, 4), minval=-12, maxval=12)
  return jnp.tile(boxes, (count // boxes.shape[0] + 1, 1))[:count] + jitter


def test_sample_rois_labels_targets_and_balance():
  proposals = proposals_around(GT[:2], 200)
  out = sample_rois(jax.random.PRNGKey(0), proposals, jnp.ones(200, bool), GT, GT_LABELS, GT_VALID, batch_size=64)
  labels = np.asarray(out['labels'])
  assert labels.shape == (64,) and (labels != PADDING).all()
  assert 0 < (labels > 0).sum() <= 16                          # at most 25% foreground
  assert set(labels[labels > 0]) <= {4, 8}                       # class + 1 of the matched ground truth
  from vision_jax.detection.boxes import pairwise_iou
  iou = np.asarray(pairwise_iou(GT[:2], out['rois'])).max(0)
  assert (iou[labels > 0] >= 0.5).all() and (iou[labels == 0] < 0.5).all()
  decoded = coders.decode_rcnn(out['targets'], out['rois'], coders.BOX_HEAD_WEIGHTS)
  matched = np.where(labels[labels > 0, None] == 4, GT[0], GT[1])
  np.testing.assert_allclose(np.asarray(decoded)[labels > 0], matched, atol=1e-3)
  again = sample_rois(jax.random.PRNGKey(0), proposals, jnp.ones(200, bool), GT, GT_LABELS, GT_VALID, batch_size=64)
  other = sample_rois(jax.random.PRNGKey(1), proposals, jnp.ones(200, bool), GT, GT_LABELS, GT_VALID, batch_size=64)
  np.testing.assert_array_equal(again['rois'], out['rois'])      # the same key samples the same RoIs
  assert not np.array_equal(other['rois'], out['rois'])


def test_sample_rois_pads_when_there_are_fewer_candidates_than_slots():
  out = sample_rois(jax.random.PRNGKey(0), GT[:1], jnp.array([True]), GT, GT_LABELS, GT_VALID, batch_size=16)
  labels = np.asarray(out['labels'])
  assert sorted(labels[labels != PADDING]) == [4, 4, 8] and (labels == PADDING).sum() == 13


def test_box_head_loss_counts_sampled_rois_and_own_class_deltas():
  logits = jnp.zeros((1, 3, 4))
  deltas = jnp.zeros((1, 3, 4, 4)).at[0, 0, 2].set(jnp.array([1.0, 0.0, 0.0, 0.0]))
  labels = jnp.array([[2, 0, PADDING]])
  targets = jnp.zeros((1, 3, 4))
  losses = box_head_loss(logits, deltas, labels, targets, beta=1.0)
  np.testing.assert_allclose(losses['box_classifier_loss'], np.log(4), rtol=1e-6)   # two sampled RoIs
  np.testing.assert_allclose(losses['box_regression_loss'], 0.5 / 2, rtol=1e-6)     # smooth-L1(1) / 2 sampled
  l1 = box_head_loss(logits, deltas, labels, targets, beta=0.0)
  np.testing.assert_allclose(l1['box_regression_loss'], 1.0 / 2, rtol=1e-6)


def test_detect_decodes_class_specific_boxes_and_suppresses_per_class():
  proposals = jnp.array([[10.0, 10.0, 50.0, 50.0], [12.0, 12.0, 50.0, 50.0], [60.0, 60.0, 90.0, 90.0]])
  logits = jnp.array([[0.0, 5.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 6.0]])
  deltas = jnp.zeros((3, 3, 4)).at[2, 2].set(jnp.array([10.0, 0.0, 0.0, 0.0]))   # class 2 shifts right by w/10*10/10
  out = detect(logits, deltas, proposals, jnp.ones(3, bool), jnp.array([100.0, 100.0]), max_detections=4)
  valid = np.asarray(out['valid'])
  boxes, labels = np.asarray(out['boxes'])[valid], np.asarray(out['labels'])[valid]
  assert list(labels) == [1, 0]                                   # the overlapping class-0 pair kept once
  np.testing.assert_allclose(boxes[0], [60.0, 90.0, 90.0, 100.0], atol=1e-4)   # shifted by its width, clipped
  np.testing.assert_allclose(boxes[1], proposals[0], atol=1e-4)


def tiny_detector(image_size):
  config = ml_collections.ConfigDict({
      'detector': 'faster_rcnn',
      'model': {'name': 'faster_rcnn', 'backbone': 'tiny', 'anchor_sizes': ((16,), (32,), (64,)),
                'backbone_args': {'widths': (8, 16, 16), 'stem': 4}, 'fpn_features': 16, 'representation': 32,
                'rpn_pre_nms_top_n_train': 50, 'rpn_post_nms_top_n_train': 50, 'rpn_pre_nms_top_n_test': 50,
                'rpn_post_nms_top_n_test': 50, 'box_batch_size_per_image': 16, 'roi_align_impl': 'matmul'},
      'nms': {'score_threshold': 0.05, 'iou_threshold': 0.5, 'max_detections': 20, 'pre_nms_top_k': 50},
      'losses': {'rpn_beta': 1 / 9, 'box_beta': 1.0}})
  return build_detector(config, 10, (image_size, image_size, 1))


@functools.lru_cache(maxsize=None)
def loss_and_grad(image_size):
  detector = tiny_detector(image_size)
  variables = detector.model.init(jax.random.PRNGKey(0), jnp.zeros((1, image_size, image_size, 1)))

  def loss(params, batch, rng):
    outputs, _ = apply_for_training(detector.model, params, variables['batch_stats'], batch['image'], rng,
                                    **detector.model_kwargs(batch))
    return detector.loss(outputs, batch, jax.random.fold_in(rng, 1))
  return jax.jit(jax.value_and_grad(loss, has_aux=True)), variables['params']


def batch_of(boxes, valid, image_size=64, max_boxes=40):
  """A batch with its ground truth padded to max_boxes (one shape, one compile for every case)."""
  boxes, valid = np.asarray(boxes, np.float32), np.asarray(valid)
  pad = max_boxes - boxes.shape[1]
  boxes, valid = np.pad(boxes, ((0, 0), (0, pad), (0, 0))), np.pad(valid, ((0, 0), (0, pad)))
  return {'image': jax.random.normal(jax.random.PRNGKey(3), (boxes.shape[0], image_size, image_size, 1)),
          'boxes': jnp.asarray(boxes), 'labels': jnp.ones(boxes.shape[:2], jnp.int32), 'box_valid': jnp.asarray(valid)}


def finite(tree):
  return all(bool(jnp.isfinite(x).all()) for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('case', ['no_boxes', 'sub_pixel', 'many_boxes'])
def test_bad_ground_truth_gives_finite_losses_and_gradients(case):
  grad_fn, params = loss_and_grad(64)
  if case == 'no_boxes':
    batch = batch_of(np.zeros((2, 4, 4)), np.zeros((2, 4), bool))
  elif case == 'sub_pixel':  # 0.3 px boxes, one degenerate (zero area)
    batch = batch_of(np.array([[[0.1, 0.1, 0.105, 0.105], [0.5, 0.5, 0.5, 0.5]]] * 2), np.ones((2, 2), bool))
  else:  # 40 boxes on a 64 px image, more than any padding the pipelines use for digit scenes
    corners = np.random.default_rng(0).uniform(0, 0.8, (2, 40, 2))
    batch = batch_of(np.concatenate([corners, corners + 0.2], -1), np.ones((2, 40), bool))
  (loss, metrics), grads = grad_fn(params, batch, jax.random.PRNGKey(0))
  assert finite(loss) and finite(metrics) and finite(grads)
  assert metrics['rpn_objectness_loss'] > 0 and metrics['box_classifier_loss'] > 0   # negatives still train
  if case == 'no_boxes':
    assert metrics['rpn_box_loss'] == 0 and metrics['box_regression_loss'] == 0


def test_an_image_smaller_than_its_anchors_still_trains():
  grad_fn, params = loss_and_grad(32)  # 64 px anchors on a 32 px image; the stride-16 level is 2x2
  (loss, metrics), grads = grad_fn(params, batch_of([[[0.2, 0.2, 0.7, 0.6]]] * 2, [[True]] * 2, 32), jax.random.PRNGKey(0))
  assert finite(loss) and finite(grads) and metrics['rpn_box_loss'] > 0


def test_sampling_follows_the_key_so_a_resumed_step_repeats():
  grad_fn, params = loss_and_grad(64)
  batch = batch_of([[[0.1, 0.1, 0.5, 0.5], [0.4, 0.5, 0.9, 0.8]]] * 2, np.ones((2, 2), bool))
  first = grad_fn(params, batch, jax.random.PRNGKey(5))[0][1]
  again = grad_fn(params, batch, jax.random.PRNGKey(5))[0][1]
  other = grad_fn(params, batch, jax.random.PRNGKey(6))[0][1]
  assert all(float(first[k]) == float(again[k]) for k in first)
  assert any(float(first[k]) != float(other[k]) for k in first)


def test_eval_mode_gives_padded_detections_in_input_pixels():
  detector = tiny_detector(64)
  variables = detector.model.init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 1)))
  detections = jax.jit(lambda v, x: detector.postprocess(detector.model.apply(v, x)))(
      variables, jnp.ones((2, 64, 64, 1)))
  assert detections['boxes'].shape == (2, 20, 4) and detections['valid'].dtype == bool
  boxes = np.asarray(detections['boxes'])[np.asarray(detections['valid'])]
  assert ((boxes >= 0) & (boxes <= 64)).all()


@pytest.mark.parametrize('backbone, neck, classifier', [('vgg16_c4', 'none', 'vgg16'), ('resnet50', 'fpn', 'resnet50'),
                                                        ('resnet101', 'fpn', 'resnet101')])
def test_backbones_take_every_zoo_classifier_weight_but_its_head(backbone, neck, classifier):
  """init_from copies a zoo classifier's weights by path and shape into params['backbone']:
  VGG-16's fc6/fc7 become the C4 box head, a ResNet's stages the FPN's inputs."""
  from flax import traverse_util
  from vision_jax import models
  config = ml_collections.ConfigDict({'name': 'faster_rcnn', 'backbone': backbone, 'neck': neck})
  detector = models.instantiate(FasterRCNN, config, 20)
  zoo = models.build_model(ml_collections.ConfigDict({'name': classifier}), 1000)
  shapes = lambda m, size: jax.eval_shape(m.init, jax.random.PRNGKey(0), jnp.zeros((1, size, size, 3)))
  ours = traverse_util.flatten_dict(shapes(detector, 224)['params']['backbone'])
  theirs = traverse_util.flatten_dict(shapes(zoo, 224)['params'])
  expected = {k: v.shape for k, v in theirs.items() if k[0] not in ('fc', 'fc8')}
  assert {k: v.shape for k, v in ours.items()} == expected


def test_an_input_whose_sides_are_not_multiples_of_the_coarsest_stride_is_refused():
  """237x311 would give anchor strides 3/7/15 instead of 4/8/16 (wrong boxes, silently); torchvision
  pads it to 256x320 (size_divisible=32; the tiny backbone's coarsest stride is 16, so 240x320),
  which runs."""
  detector = tiny_detector(64)
  with pytest.raises(ConfigError, match=re.escape('Faster R-CNN input 237x311 must have sides divisible by 16 '
                                                  '(its coarsest feature stride): pad the images to a multiple of 16')):
    jax.eval_shape(detector.model.init, jax.random.PRNGKey(0), jnp.zeros((1, 237, 311, 1)))
  shapes = jax.eval_shape(detector.model.init, jax.random.PRNGKey(0), jnp.zeros((1, 240, 320, 1)))
  assert 'params' in shapes
