"""PASCAL VOC average precision, as the VOC devkit computes it: per class, detections sorted by
score are matched greedily to unused ground truth at IoU >= 0.5; 'difficult' ground truth is
neither a hit nor a miss. AP is VOC07's 11-point mean or the all-point area (VOC2010+).

Boxes are [ymin, xmin, ymax, xmax]. The devkit works in integer pixels with the +1 convention
(pixel_offset=1); normalised boxes use pixel_offset=0.
"""

from typing import Sequence

import numpy as np

from vision_jax.detection.boxes import pairwise_iou


def average_precision(recall: np.ndarray, precision: np.ndarray, use_07_metric: bool) -> float:
  """VOC07 11-point AP, or the area under the monotone precision envelope."""
  if use_07_metric:
    return float(np.mean([np.max(precision[recall >= t], initial=0.0) for t in np.linspace(0, 1, 11)]))
  r = np.concatenate([[0.0], recall, [1.0]])
  p = np.concatenate([[0.0], precision, [0.0]])
  p = np.maximum.accumulate(p[::-1])[::-1]
  changes = np.flatnonzero(r[1:] != r[:-1])
  return float(np.sum((r[changes + 1] - r[changes]) * p[changes + 1]))


def class_ap(detections: Sequence[tuple], ground_truth: dict, iou_threshold: float = 0.5,
             use_07_metric: bool = False, pixel_offset: float = 0.0) -> float:
  """AP of one class. detections: [(image_id, score, box)]; ground_truth: {image_id: (boxes (N, 4),
  difficult (N,) bool)}. NaN when the class has no non-difficult ground truth."""
  num_positive = sum(int((~np.asarray(d, bool)).sum()) for _, d in ground_truth.values())
  if num_positive == 0:
    return float('nan')
  used = {image: np.zeros(len(boxes), bool) for image, (boxes, _) in ground_truth.items()}
  order = sorted(detections, key=lambda d: -d[1])
  tp, fp = np.zeros(len(order)), np.zeros(len(order))
  for i, (image, _, box) in enumerate(order):
    boxes, difficult = ground_truth.get(image, (np.zeros((0, 4)), np.zeros(0, bool)))
    if len(boxes) == 0:
      fp[i] = 1
      continue
    overlaps = pairwise_iou(np.asarray(box, np.float64)[None], np.asarray(boxes, np.float64), pixel_offset)[0]
    best = int(np.argmax(overlaps))
    if overlaps[best] < iou_threshold:
      fp[i] = 1
    elif difficult[best]:
      continue  # neither hit nor miss
    elif not used[image][best]:
      tp[i], used[image][best] = 1, True
    else:
      fp[i] = 1  # a duplicate detection
  tp, fp = np.cumsum(tp), np.cumsum(fp)
  recall = tp / num_positive
  precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
  return average_precision(recall, precision, use_07_metric)


def voc_map(detections: Sequence[tuple], ground_truth: Sequence[tuple], num_classes: int,
            iou_threshold: float = 0.5, use_07_metric: bool = False, pixel_offset: float = 0.0) -> dict:
  """detections: [(image_id, label, score, box)]; ground_truth: [(image_id, label, box, difficult)].
  Returns {'mAP': mean over classes with ground truth, 'per_class': [AP or NaN]}."""
  per_class = []
  for c in range(num_classes):
    gt: dict = {}
    for image, label, box, difficult in ground_truth:
      if label == c:
        boxes, flags = gt.get(image, ([], []))
        gt[image] = (boxes + [box], flags + [bool(difficult)])
    gt = {image: (np.asarray(b, np.float64).reshape(-1, 4), np.asarray(f, bool)) for image, (b, f) in gt.items()}
    dets = [(image, score, box) for image, label, score, box in detections if label == c]
    per_class.append(class_ap(dets, gt, iou_threshold, use_07_metric, pixel_offset))
  valid = [ap for ap in per_class if not np.isnan(ap)]
  return {'mAP': float(np.mean(valid)) if valid else 0.0, 'per_class': per_class}
