"""The detection evaluator's summary on hand-made detections: VOC AP equals the hand-computed value,
and boxes are compared in original-image pixels (model-input boxes mapped back)."""

import numpy as np
import pytest

from vision_jax.detection.boxes import resize_scale, to_image_pixels
from vision_jax.evaluation.detection import summarise


def image_outputs(detections, truth, image_hw=(50, 100)):
  """One eval batch of one image: detections [(label, score, box in 100x200 input px)], ground truth
  [(label, box normalised)], padded to 4 of each."""
  boxes = np.zeros((1, 4, 4)); labels = np.zeros((1, 4), int); scores = np.zeros((1, 4)); valid = np.zeros((1, 4), bool)
  for i, (label, score, box) in enumerate(detections):
    boxes[0, i], labels[0, i], scores[0, i], valid[0, i] = box, label, score, True
  gt = np.zeros((1, 4, 4)); gt_labels = np.zeros((1, 4), int); gt_valid = np.zeros((1, 4), bool)
  for i, (label, box) in enumerate(truth):
    gt[0, i], gt_labels[0, i], gt_valid[0, i] = box, label, True
  return {'boxes': boxes, 'labels': labels, 'scores': scores, 'valid': valid, 'gt_boxes': gt,
          'gt_labels': gt_labels, 'gt_box_valid': gt_valid, 'gt_difficult': np.zeros((1, 4), bool),
          'image_hw': np.array([image_hw]), 'image_id': np.array([0]), 'mask': np.ones(1)}


def test_voc_map_of_hand_made_detections_equals_the_hand_computed_value():
  # Ground truth in each of two 50x100 images, normalised; detections in the 100x200 model input
  # (stretch: twice the image's pixels). Class 0: hit (0.9), false positive (0.8), hit (0.7):
  # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> all-point AP 1/2 + 1/2 * 2/3 = 5/6;
  # 11-point AP (6 x 1 + 5 x 2/3) / 11. Class 1: one hit -> AP 1.
  first = image_outputs([(0, 0.9, [10, 20, 30, 40]), (0, 0.8, [0, 100, 10, 120]), (1, 0.6, [30, 50, 50, 100])],
                        [(0, [0.1, 0.1, 0.3, 0.2]), (1, [0.3, 0.25, 0.5, 0.5])])
  second = image_outputs([(0, 0.7, [20, 10, 40, 30])], [(0, [0.2, 0.05, 0.4, 0.15])])
  metrics = summarise([first, second], num_classes=2, input_hw=(100, 200))
  assert metrics['num_examples'] == 2
  assert metrics['mAP50'] == pytest.approx((5 / 6 + 1) / 2)
  assert metrics['mAP50_voc07'] == pytest.approx(((6 + 5 * 2 / 3) / 11 + 1) / 2)


def test_letterbox_boxes_map_back_to_the_original_pixels():
  # A 200x400 image letterboxed into 300x300: scale 0.75, image at the top left, 150 rows of padding.
  assert resize_scale((200, 400), (300, 300), 'letterbox') == (0.75, 0.75)
  assert resize_scale((200, 400), (300, 300), 'stretch') == (1.5, 0.75)
  np.testing.assert_allclose(to_image_pixels(np.array([[15.0, 30.0, 150.0, 300.0], [0, 0, 299, 299]]),
                                             (200, 400), (300, 300), 'letterbox'),
                             [[20, 40, 200, 400], [0, 0, 200, 398.6666667]])
