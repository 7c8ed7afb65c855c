"""YOLOv1 as a detector family: the grid model's outputs, the paper's sum-squared loss with its own
cell assignment (detection/yolov1_loss.py), and inference as class-specific confidences
(confidence x class probability per predictor) with per-class NMS (config.nms)."""

import jax.numpy as jnp

from vision_jax import models
from vision_jax.detection.nms import batched_per_class_nms
from vision_jax.detection.yolov1_loss import class_confidences, yolov1_loss
from vision_jax.detectors.base import Detector
from vision_jax.detectors.registry import DETECTORS


@DETECTORS.register('yolov1')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """YOLOv1's Detector; config.losses holds the paper's lambda_coord (coord) and lambda_noobj (noobj)."""
  model = models.build_model(config.model, num_classes)
  losses, nms = config.losses, config.nms
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)

  def loss(outputs, batch, rng):
    terms = yolov1_loss(outputs, batch['boxes'], batch['labels'], batch['box_valid'], losses.coord, losses.noobj)
    return terms['loss'], terms

  def postprocess(outputs):
    boxes, scores = class_confidences(outputs)
    return batched_per_class_nms(boxes * input_scale, scores, nms.score_threshold, nms.iou_threshold,
                                 nms.pre_nms_top_k, nms.max_detections)

  return Detector(model=model, loss=loss, postprocess=postprocess)
