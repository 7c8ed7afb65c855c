"""YOLOv8-style anchor-free detection as a detector family: the model's DFL box logits and class
logits per location, task-aligned assignment and the box/cls/DFL loss inside the jitted step
(detection/yolo_loss.py), and inference as decoded boxes, sigmoid scores and per-class NMS
(config.nms: Ultralytics' conf 0.001, IoU 0.7, 300 per image). config.init_from may name an
Ultralytics YOLOv8 state_dict file (the whole detector; weights/ultralytics.py)."""

from typing import Optional

import jax
import jax.numpy as jnp

from vision_jax import models
from vision_jax.detection.dfl import anchor_points, decode
from vision_jax.detection.nms import batched_per_class_nms
from vision_jax.detection.yolo_loss import yolov8_loss
from vision_jax.detectors.base import Detector
from vision_jax.detectors.registry import DETECTORS
from vision_jax.errors import UserError
from vision_jax.models.yolo import level_strides
from vision_jax.weights.convert import whole_detector_from_file
from vision_jax.weights.ultralytics import convert_yolov8, is_ultralytics_detector


def import_ultralytics(init_from: str, template: dict) -> Optional[dict]:
  """Variables from an Ultralytics YOLOv8 state_dict file, or None when init_from is not one."""
  return whole_detector_from_file(init_from, template, is_ultralytics_detector, convert_yolov8)


@DETECTORS.register('yolo')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """YOLOv8's Detector: outputs are the model's {'boxes': DFL logits, 'scores': class logits}."""
  model = models.build_model(config.model, num_classes)
  height, width = image_shape[:2]
  levels = level_strides(config.model.get('p2', False))
  if height % levels[-1] or width % levels[-1]:
    raise UserError(f'YOLO input {height}x{width} must be divisible by {levels[-1]}')
  points, strides = anchor_points([(height // s, width // s) for s in levels], levels)
  reg_max = config.model.get('reg_max', 16)
  losses, nms = config.losses, config.nms
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)
  gains = {'box': losses.box, 'cls': losses.cls, 'dfl': losses.dfl}

  def loss(outputs, batch, rng):
    terms = yolov8_loss(outputs['boxes'], outputs['scores'], jnp.asarray(points), strides, batch['labels'],
                        batch['boxes'] * input_scale, batch['box_valid'], gains, losses.topk, losses.alpha,
                        losses.beta)
    return terms['loss'], terms

  def postprocess(outputs):
    # As Ultralytics' validator: NMS on the decoded boxes as they are, clipped to the input after.
    boxes = decode(outputs['boxes'], jnp.asarray(points), jnp.asarray(strides), reg_max)
    scores = jax.nn.sigmoid(outputs['scores'].astype(jnp.float32))
    detections = batched_per_class_nms(boxes, scores, nms.score_threshold, nms.iou_threshold, nms.pre_nms_top_k,
                                       nms.max_detections)
    return {**detections, 'boxes': jnp.clip(detections['boxes'], 0.0, input_scale)}

  return Detector(model=model, loss=loss, postprocess=postprocess, import_weights=import_ultralytics)
