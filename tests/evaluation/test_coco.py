"""The COCO path: our detections and ground truth through pycocotools' COCOeval."""

import numpy as np
import pytest

from vision_jax.evaluation.coco import coco_metrics, to_xywh

IMAGES = [{'id': 1, 'height': 100, 'width': 200}, {'id': 2, 'height': 100, 'width': 200}]
GT = [{'image_id': 1, 'category_id': 3, 'bbox': [20.0, 10.0, 60.0, 50.0], 'iscrowd': 0},
      {'image_id': 2, 'category_id': 7, 'bbox': [100.0, 40.0, 80.0, 50.0], 'iscrowd': 0}]


def test_perfect_detections_give_ap_one():
  detections = [{**g, 'score': 0.9} for g in GT]
  metrics = coco_metrics(IMAGES, GT, detections, [3, 7])
  assert metrics['coco_AP'] == pytest.approx(1.0) and metrics['coco_AP50'] == pytest.approx(1.0)
  assert metrics['coco_APs'] == -1.0  # no small objects: pycocotools' -1, kept as is


def test_a_box_at_iou_0_6_counts_at_50_not_at_75():
  shifted = dict(GT[0], bbox=[20.0, 10.0, 60.0, 30.0], score=0.9)  # IoU 30/50 = 0.6
  metrics = coco_metrics(IMAGES[:1], GT[:1], [shifted], [3, 7])
  assert metrics['coco_AP50'] == pytest.approx(1.0) and metrics['coco_AP75'] == pytest.approx(0.0)


def test_normalised_corners_to_pixel_xywh():
  assert to_xywh(np.array([10.0, 50.0, 60.0, 100.0])) == pytest.approx([50.0, 10.0, 50.0, 50.0])
