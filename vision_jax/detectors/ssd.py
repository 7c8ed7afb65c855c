"""SSD (Liu et al. 2016) as a detector family: default boxes from config.default_boxes, matching
inside the jitted step (config.matching), the MultiBox loss with hard negatives, and per-class NMS
(config.nms) to padded detections."""

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax import models
from vision_jax.detection.default_boxes import default_boxes, spec_from_config
from vision_jax.detection.loss import multibox_loss
from vision_jax.detection.matching import batch_match
from vision_jax.detection.nms import postprocess as ssd_postprocess
from vision_jax.detectors.base import Detector
from vision_jax.detectors.registry import DETECTORS
from vision_jax.errors import UserError

# SSD backbone -> the zoo classifier whose pretrained weights it reuses.
BACKBONE_CLASSIFIERS = {'vgg16': 'vgg16', 'resnet18': 'resnet18', 'resnet34': 'resnet34',
                        'resnet50': 'resnet50', 'efficientnet_lite0': 'efficientnet_lite0'}


def model_config_with_boxes(config):
  """config.model with as many boxes per location as config.default_boxes asks."""
  model_config = config.model.copy_and_resolve_references()
  with model_config.unlocked():
    model_config.boxes_per_location = tuple(2 + 2 * len(r) for r in config.default_boxes.aspect_ratios)
  return model_config


def priors_for(config, model_config, num_classes: int, image_shape: tuple[int, ...]) -> np.ndarray:
  """(P, 4) center-form default boxes for the model's actual feature maps at this input size."""
  probe = models.build_model(model_config, num_classes)
  _, features = jax.eval_shape(lambda x: probe.init_with_output(jax.random.PRNGKey(0), x)[0],
                               jnp.zeros((1, *image_shape)))
  maps = [features[f'source{k}'].shape[1] for k in range(len(features))]
  try:
    return default_boxes(spec_from_config(config.default_boxes, image_shape[0], maps))
  except ValueError as e:
    raise UserError(f'config.default_boxes does not fit {model_config.name}: {e}') from None


@DETECTORS.register('ssd')
def build(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """SSD's Detector: model(images) -> (loc offsets (B, P, 4), class logits (B, P, C + 1))."""
  model_config = model_config_with_boxes(config)
  priors = jnp.asarray(priors_for(config, model_config, num_classes, image_shape))
  model = models.build_model(model_config, num_classes)
  matching, nms = config.matching, config.nms
  input_scale = jnp.asarray(image_shape[:2] * 2, jnp.float32)

  def loss(outputs, batch, rng):
    (loc, logits), _ = outputs
    loc_targets, cls_targets = batch_match(batch['boxes'], batch['labels'], batch['box_valid'], priors,
                                           matching.iou_threshold)
    losses = multibox_loss(loc, logits, loc_targets, cls_targets, matching.neg_pos_ratio)
    return losses['loss'], {**losses, 'num_positive': losses['num_positive'].astype(jnp.float32)}

  def postprocess(outputs):
    (loc, logits), _ = outputs
    detections = ssd_postprocess(loc, logits, priors, nms.score_threshold, nms.iou_threshold,
                                 nms.pre_nms_top_k, nms.max_detections)
    return {**detections, 'boxes': detections['boxes'] * input_scale}

  backbone = model_config.get('backbone', getattr(model, 'backbone', None))
  return Detector(model=model, loss=loss, postprocess=postprocess, backbone=BACKBONE_CLASSIFIERS.get(backbone))
