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


def _official(images, ground_truth, detections, category_ids, tmp_path) -> list[float]:
  """pycocotools the way the COCO server runs it: annotation JSON file, loadRes of the results."""
  import contextlib
  import io
  import json
  from pycocotools.coco import COCO
  from pycocotools.cocoeval import COCOeval
  path = tmp_path / 'instances.json'
  path.write_text(json.dumps({'images': images, 'categories': [{'id': c, 'name': str(c)} for c in category_ids],
                              'annotations': [{**g, 'id': i + 1} for i, g in enumerate(ground_truth)]}))
  with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(str(path))
    evaluator = COCOeval(gt, gt.loadRes(detections), 'bbox')
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
  return [float(v) for v in evaluator.stats[:6]]


def test_the_datasets_segment_area_sets_the_size_ranges(tmp_path):
  # issue #15 item 12: a 60x50 box whose segment covers 900 px is a small object for COCO.
  ground_truth = [dict(GT[0], area=900.0), dict(GT[1], area=3000.0)]
  detections = [{**g, 'score': 0.9} for g in GT[:1]]
  ours = coco_metrics(IMAGES, ground_truth, detections, [3, 7])
  assert list(ours.values()) == pytest.approx(_official(IMAGES, ground_truth, detections, [3, 7], tmp_path))
  assert ours['coco_APs'] == pytest.approx(1.0) and ours['coco_APm'] == pytest.approx(0.0)
  box_area_only = coco_metrics(IMAGES, GT, detections, [3, 7])
  assert box_area_only['coco_APs'] == -1.0


def test_no_detections_score_zero_where_objects_exist_and_minus_one_where_none():
  # issue #15 item 12: every stat used to come back 0.0.
  metrics = coco_metrics(IMAGES, GT, [], [3, 7])
  assert [metrics[k] for k in ('coco_AP', 'coco_AP50', 'coco_AP75', 'coco_APs', 'coco_APm', 'coco_APl')] == \
      [0.0, 0.0, 0.0, -1.0, 0.0, -1.0]
