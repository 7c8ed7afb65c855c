"""Faster R-CNN (Ren et al. 2015; FPN, Lin et al. 2017) as a detector family: the model samples its
RoIs from the proposals and the ground truth (models/faster_rcnn.py), the loss adds the RPN's
(anchors sampled with the step's key) and the box head's, inference decodes class-specific boxes
with per-class NMS (config.nms). config.init_from may name a torchvision fasterrcnn_resnet50_fpn
state_dict (the whole detector) or a zoo classifier's weights (the backbone)."""

from typing import Optional

import jax
import jax.numpy as jnp

from vision_jax import models
from vision_jax.detection.roi_heads import box_head_loss, detect
from vision_jax.detection.rpn import proposal_recall, rpn_loss
from vision_jax.detectors.base import Detector
from vision_jax.detectors.registry import DETECTORS
from vision_jax.weights.convert import whole_detector_from_file
from vision_jax.weights.torchvision_detection import convert_faster_rcnn, is_torchvision_detector

# Faster R-CNN backbone -> the zoo classifier whose ImageNet weights params['backbone'] takes.
BACKBONE_CLASSIFIERS = {'resnet50_fpn': 'resnet50', 'resnet101_fpn': 'resnet101', 'vgg16': 'vgg16'}


def import_torchvision(init_from: str, template: dict) -> Optional[dict]:
  """Variables from a torchvision Faster R-CNN state_dict file, or None when init_from is not one."""
  return whole_detector_from_file(init_from, template, is_torchvision_detector, convert_faster_rcnn)


@DETECTORS.register('faster_rcnn')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """Faster R-CNN's Detector: outputs are the model's dict (RPN outputs, proposals, RoI outputs)."""
  model = models.build_model(config.model, num_classes)
  nms, losses = config.nms, config.losses
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)

  def model_kwargs(batch):
    return {'gt_boxes': batch['boxes'] * input_scale, 'gt_labels': batch['labels'], 'gt_valid': batch['box_valid']}

  def loss(outputs, batch, rng):
    rpn = rpn_loss(rng, outputs['objectness'], outputs['rpn_deltas'], outputs['anchors'],
                   batch['boxes'] * input_scale, batch['box_valid'], model.rpn_batch_size_per_image,
                   model.rpn_positive_fraction, losses.rpn_beta)
    head = box_head_loss(outputs['class_logits'], outputs['box_deltas'], outputs['roi_labels'],
                         outputs['roi_targets'], losses.box_beta)
    total = sum(rpn.values()) + sum(head.values())
    foreground = jnp.mean(jnp.sum(outputs['roi_labels'] > 0, axis=1).astype(jnp.float32))
    return total, {**rpn, **head, 'loss': total, 'foreground_rois': foreground}

  def postprocess(outputs):
    def one(logits, deltas, proposals, scores, image_hw):
      return detect(logits, deltas, proposals, scores > 0, image_hw, nms.score_threshold, nms.iou_threshold,
                    nms.max_detections, nms.pre_nms_top_k)
    return jax.vmap(one)(outputs['class_logits'], outputs['box_deltas'], outputs['proposals'],
                         outputs['proposal_scores'], outputs['image_hw'])

  def eval_counts(outputs, batch):
    hits, total = proposal_recall(outputs['proposals'], outputs['proposal_scores'] > 0,
                                  batch['boxes'] * input_scale, batch['box_valid'])
    return {'rpn_recall': (hits, total)}

  return Detector(model=model, loss=loss, postprocess=postprocess,
                  backbone=BACKBONE_CLASSIFIERS.get(config.model.get('backbone', 'resnet50_fpn')),
                  model_kwargs=model_kwargs, import_weights=import_torchvision, eval_counts=eval_counts)
