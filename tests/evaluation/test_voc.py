"""VOC AP against hand-computed cases."""

import numpy as np
import pytest

from vision_jax.evaluation.voc import average_precision, voc_map

BOX = [0.1, 0.1, 0.5, 0.5]
FAR = [0.6, 0.6, 0.9, 0.9]


def test_perfect_detections_score_one_with_both_metrics():
  gt = [('a', 0, BOX, False), ('b', 0, FAR, False), ('b', 1, BOX, False)]
  dets = [('a', 0, 0.9, BOX), ('b', 0, 0.8, FAR), ('b', 1, 0.7, BOX)]
  for use_07 in (False, True):
    assert voc_map(dets, gt, 2, use_07_metric=use_07)['mAP'] == pytest.approx(1.0)


def test_hand_computed_precision_recall():
  # Two ground truths; detections by score: hit, miss (false positive), duplicate, hit.
  gt = [('a', 0, BOX, False), ('b', 0, FAR, False)]
  dets = [('a', 0, 0.9, BOX), ('a', 0, 0.8, FAR), ('a', 0, 0.7, BOX), ('b', 0, 0.6, FAR)]
  # precision/recall: (1, .5), (.5, .5), (1/3, .5), (.5, 1)
  # all-point: envelope p = 1 up to recall .5, then .5 up to 1 -> 0.5 * 1 + 0.5 * 0.5 = 0.75
  assert voc_map(dets, gt, 1)['mAP'] == pytest.approx(0.75)
  # 11-point: t = 0..0.5 (6 points) -> 1; t = 0.6..1.0 (5 points) -> 0.5 -> (6 + 2.5) / 11
  assert voc_map(dets, gt, 1, use_07_metric=True)['mAP'] == pytest.approx(8.5 / 11)


def test_difficult_ground_truth_is_neither_hit_nor_miss():
  gt = [('a', 0, BOX, False), ('a', 0, FAR, True)]
  with_difficult_hit = [('a', 0, 0.9, FAR), ('a', 0, 0.8, BOX)]
  assert voc_map(with_difficult_hit, gt, 1)['mAP'] == pytest.approx(1.0)
  assert voc_map([('a', 0, 0.9, BOX)], gt, 1)['mAP'] == pytest.approx(1.0)  # missing it costs nothing


def test_low_iou_is_a_miss_and_classes_without_ground_truth_are_skipped():
  gt = [('a', 0, BOX, False)]
  shifted = [0.3, 0.3, 0.7, 0.7]  # IoU 1/7 with BOX
  result = voc_map([('a', 0, 0.9, shifted), ('a', 1, 0.9, BOX)], gt, 2)
  assert result['mAP'] == 0.0 and np.isnan(result['per_class'][1])


def test_eleven_point_and_all_point_on_a_known_curve():
  recall, precision = np.array([0.2, 0.4, 0.4, 0.8]), np.array([1.0, 1.0, 0.5, 0.5])
  assert average_precision(recall, precision, False) == pytest.approx(0.4 * 1 + 0.4 * 0.5)
  assert average_precision(recall, precision, True) == pytest.approx((5 * 1.0 + 4 * 0.5) / 11)
