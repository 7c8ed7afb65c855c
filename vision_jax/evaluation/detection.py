"""Detection evaluators over the detector contract (vision_jax/detection/detector.py):

'detection_ap': VOC AP at IoU 0.5 (`mAP50` all-point, `mAP50_voc07` 11-point) and, for a source
    with COCO category ids, pycocotools' COCO metrics; boxes in original-image pixels. Every
    evaluation also writes WORKDIR/eval/detections_coco_<step>.json in COCO's results format.
'detection_pictures': the first `num_images` test images with their detections, drawn to
    WORKDIR/plots/predictions.png (those scoring at least spec.score_threshold, default 0.3).
"""

import json
import os
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.detection.boxes import to_image_pixels
from vision_jax.detection.detector import records_of
from vision_jax.evaluation.coco import coco_metrics, evaluate_coco, to_xywh
from vision_jax.evaluation.evaluators import EVALUATORS, PictureEvaluator, StepEvaluator, needs
from vision_jax.evaluation.pictures import save_detection_grid
from vision_jax.evaluation.voc import voc_map

GT_KEYS = ('boxes', 'labels', 'box_valid')
COUNT_PREFIX = 'count_'


def make_eval_step(detector):
  """eval_step(state, batch) -> the batch's padded detections, its ground truth passed through."""

  def eval_step(state, batch):
    outputs = detector.model.apply(state.variables(), batch['image'], train=False)
    detections = detector.postprocess(outputs)
    passed = {f'gt_{k}': batch[k] for k in GT_KEYS}
    passed['gt_difficult'] = batch.get('difficult', jnp.zeros_like(batch['box_valid']))
    passed['gt_area'] = batch.get('area', jnp.full(batch['box_valid'].shape, -1.0))  # -1: the box's own
    count = batch['image'].shape[0]
    input_hw = jnp.broadcast_to(jnp.asarray(batch['image'].shape[1:3]), (count, 2))
    counts = {}
    if detector.eval_counts is not None:  # padded images have no valid ground truth: they count 0
      for key, (hits, total) in detector.eval_counts(outputs, batch).items():
        counts[f'{COUNT_PREFIX}{key}'] = jnp.stack([hits, total])
    return {**detections, **passed, **counts, 'image_hw': batch.get('image_hw', input_hw),
            'image_id': batch.get('image_id', jnp.zeros((count,), jnp.int32)), 'mask': batch['mask']}
  return eval_step


def summed_counts(outputs: list[dict]) -> dict:
  """{name: total hits / total count} of the detector's eval_counts over all collected batches."""
  names = [k for k in outputs[0] if k.startswith(COUNT_PREFIX)] if outputs else []
  sums = {k[len(COUNT_PREFIX):]: np.sum([np.asarray(out[k]).reshape(-1, 2).sum(0) for out in outputs], axis=0)
          for k in names}
  return {name: float(hits / max(total, 1.0)) for name, (hits, total) in sums.items()}


def per_image(outputs: list[dict], input_hw, resize: str):
  """Yields (image index, image id, (h, w), detections [(label, score, box px)], ground truth
  [(label, box px, difficult, area px or -1)]) for every real image of the collected eval outputs."""
  index = 0
  for out in outputs:
    for i in np.flatnonzero(out['mask']):
      hw = tuple(float(v) for v in out['image_hw'][i])
      boxes = to_image_pixels(out['boxes'][i], hw, input_hw, resize)
      detections = [(int(l), float(s), b) for b, l, s, v in
                    zip(boxes, out['labels'][i], out['scores'][i], out['valid'][i]) if v]
      gt_boxes = np.asarray(out['gt_boxes'][i], np.float64) * np.array(hw * 2)
      areas = out['gt_area'][i] if 'gt_area' in out else np.full(len(gt_boxes), -1.0)
      truth = [(int(l), b, bool(d), float(a)) for b, l, v, d, a in
               zip(gt_boxes, out['gt_labels'][i], out['gt_box_valid'][i], out['gt_difficult'][i], areas) if v]
      yield index, int(out['image_id'][i]), hw, detections, truth
      index += 1


def coco_result(image_id: int, label: int, score: float, box, category_ids=None) -> dict:
  """One detection in COCO's results format: category_id is the dataset's own id (label + 1 without
  them), bbox [x, y, w, h] in original-image pixels."""
  return {'image_id': image_id, 'category_id': int(category_ids[label]) if category_ids is not None else label + 1,
          'bbox': to_xywh(box), 'score': score}


def coco_results(outputs: list[dict], input_hw, resize: str = 'stretch', category_ids=None) -> list[dict]:
  """Every detection of the collected eval outputs in COCO's results format (coco_result)."""
  return [coco_result(image_id, label, score, box, category_ids)
          for _, image_id, _, dets, _ in per_image(outputs, input_hw, resize) for label, score, box in dets]


def summarise(outputs: list[dict], num_classes: int, input_hw, resize: str = 'stretch', category_ids=None,
              coco_ground_truth: Optional[dict] = None) -> dict:
  """VOC mAP@0.5 (all-point and VOC07 11-point) and, with COCO category ids, COCOeval's metrics:
  against coco_ground_truth (the dataset's own COCO-format annotations) when given, else against the
  ground truth the eval batches carry."""
  detections, ground_truth, images, coco_gt, results = [], [], [], [], []
  for index, image_id, (h, w), dets, truth in per_image(outputs, input_hw, resize):
    detections += [(index, label, score, box) for label, score, box in dets]
    ground_truth += [(index, label, box, difficult) for label, box, difficult, _ in truth]
    if category_ids is not None:
      results += [coco_result(image_id, label, score, box, category_ids) for label, score, box in dets]
      images.append({'id': image_id, 'height': int(h), 'width': int(w)})
      coco_gt += [{'image_id': image_id, 'category_id': category_ids[label], 'bbox': to_xywh(box),
                   'iscrowd': int(crowd), **({'area': area} if area > 0 else {})}
                  for label, box, crowd, area in truth]
  num_images = int(sum(np.sum(out['mask']) for out in outputs))
  metrics = {'mAP50': voc_map(detections, ground_truth, num_classes)['mAP'],
             'mAP50_voc07': voc_map(detections, ground_truth, num_classes, use_07_metric=True)['mAP'],
             'num_examples': float(num_images)}
  if category_ids is not None:
    metrics.update(evaluate_coco(coco_ground_truth, results) if coco_ground_truth is not None
                   else coco_metrics(images, coco_gt, results, list(category_ids)))
  return {**metrics, **summed_counts(outputs)}


def results_path(workdir: str, name: str, step: int) -> str:
  """WORKDIR/eval/detections_coco_<step>.json (with the evaluator's name unless it is 'eval')."""
  return os.path.join(workdir, 'eval', f'detections_coco_{"" if name == "eval" else name + "_"}{step}.json')


def export_results(path: str, results: list[dict]) -> None:
  """Writes COCO-format results (a temporary file renamed into place: never half a file)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + '.tmp', 'w') as f:
    json.dump(results, f)
  os.replace(path + '.tmp', path)


@EVALUATORS.register('detection_ap')
def ap_evaluator(name: str, spec, context: dict, every_steps: int) -> StepEvaluator:
  """Needs context['detector'] and context['source'] (num_classes, image_shape, eval_batches,
  optional category_ids, coco_ground_truth and resize). spec.dataset overrides config.dataset keys for
  this evaluator's own eval split (e.g. digit scenes with brighter backgrounds), through
  context['make_source']. With context['workdir'], every evaluation also writes its detections in
  COCO's results format (results_path)."""
  detector, source = needs(context, 'detector', name), needs(context, 'source', name)
  if spec.get('dataset'):
    source = needs(context, 'make_source', name)(spec.dataset)
  resize, category_ids = source.resize, source.category_ids

  def summarise_source(outputs):
    return summarise(outputs, source.num_classes, source.image_shape[:2], resize, category_ids,
                     source.coco_ground_truth)

  def save(outputs, step: int):
    export_results(results_path(context['workdir'], name, step),
                   coco_results(outputs, source.image_shape[:2], resize, category_ids))
  return StepEvaluator(name, every_steps, make_eval_step(detector), source.eval_batches, summarise_source,
                       reduce='collect', plot_keys=tuple(spec.get('plot_keys', ('mAP50',))),
                       save=save if context.get('workdir') else None)


@EVALUATORS.register('detection_pictures')
def pictures_evaluator(name: str, spec, context: dict, every_steps: int) -> Optional[PictureEvaluator]:
  """The first spec.num_images test images with detections above spec.score_threshold (0 images: off)."""
  if not spec.get('num_images', 8):
    return None
  detector, source = needs(context, 'detector', name), needs(context, 'source', name)
  workdir = needs(context, 'workdir', name)
  predict = jax.jit(detector.detect)

  def draw(state, step):
    images = next(iter(source.eval_batches()))['image'][:spec.get('num_images', 8)]
    detections = jax.device_get(predict(state.variables(), images))
    shown = np.clip(images * source.std + source.mean, 0, 1)
    shown = [x[..., 0] if x.shape[-1] == 1 else x for x in shown]
    records = [records_of(detections, i, detections['boxes'][i], source.class_names, spec.get('score_threshold', 0.3))
               for i in range(len(shown))]
    return save_detection_grid(shown, records, os.path.join(workdir, 'plots', 'predictions.png'))
  return PictureEvaluator(name, every_steps, draw)
