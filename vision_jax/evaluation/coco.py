"""COCO AP@[.5:.95], AP50, AP75 and AP for small/medium/large objects, computed by pycocotools'
COCOeval from our detections and the eval split's ground truth (not re-implemented here).
As in pycocotools, a metric is -1 when the split has no objects of that size."""

import contextlib
import io

import numpy as np

STAT_NAMES = ('coco_AP', 'coco_AP50', 'coco_AP75', 'coco_APs', 'coco_APm', 'coco_APl')


def to_xywh(box: np.ndarray) -> list[float]:
  """Pixel [ymin, xmin, ymax, xmax] -> COCO's pixel [x, y, w, h]."""
  ymin, xmin, ymax, xmax = (float(v) for v in box)
  return [xmin, ymin, xmax - xmin, ymax - ymin]


def coco_metrics(images: list[dict], ground_truth: list[dict], detections: list[dict],
                 category_ids: list[int]) -> dict:
  """images: [{'id', 'height', 'width'}]; ground_truth: [{'image_id', 'category_id', 'bbox' (xywh px),
  'iscrowd', optional 'area' (the dataset's segment area, which sets COCO's small/medium/large; the
  box's w * h where absent)}]; detections: [{'image_id', 'category_id', 'bbox', 'score'}].
  Returns STAT_NAMES -> value, -1 where the split has no objects of that size, as pycocotools reports."""
  annotations = [{**g, 'id': i + 1, 'area': g.get('area') or g['bbox'][2] * g['bbox'][3]}
                 for i, g in enumerate(ground_truth)]
  categories = [{'id': c, 'name': str(c)} for c in category_ids]
  return evaluate_coco({'images': images, 'annotations': annotations, 'categories': categories}, detections)


def evaluate_coco(truth: dict, detections: list[dict]) -> dict:
  """COCOeval's bbox metrics of detections against a COCO-format ground truth dict (images,
  annotations with id, area and iscrowd, categories), as STAT_NAMES -> value."""
  from pycocotools.coco import COCO  # deferred: pycocotools only for COCO metrics
  from pycocotools.cocoeval import COCOeval
  with contextlib.redirect_stdout(io.StringIO()):
    gt = _coco_index(COCO(), truth)
    # loadRes cannot take an empty list; an empty result set scores 0 where there is ground truth.
    dt = gt.loadRes(detections) if detections else _coco_index(COCO(), {**truth, 'annotations': []})
    evaluator = COCOeval(gt, dt, 'bbox')
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
  return {name: float(value) for name, value in zip(STAT_NAMES, evaluator.stats[:6])}


def _coco_index(coco, truth: dict):
  """A pycocotools COCO object over an in-memory dataset dict (no JSON file)."""
  coco.dataset = dict(truth)
  coco.createIndex()
  return coco
