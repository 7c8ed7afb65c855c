"""torchvision's fasterrcnn_resnet50_fpn (and the ResNet-101 variant built with the same helper)
state_dict -> our FasterRCNN variables (models/faster_rcnn.py keeps its module layout)."""

import re

import numpy as np

from vision_jax.weights.convert import convert_state
from vision_jax.weights.torchvision import chw_to_hwc_rows, resnet_key

DETECTOR_HEADS = ('cls_score', 'bbox_pred')  # re-initialised when the class count differs
MARKER = 'rpn.head.cls_logits.weight'        # a key only a whole torchvision detector has


def faster_rcnn_key(module_path: tuple) -> str:
  """Our module path -> torchvision's prefix, e.g. ('fpn', 'inner0') -> 'backbone.fpn.inner_blocks.0.0'."""
  head, rest = module_path[0], module_path[1:]
  if head == 'backbone':
    return 'backbone.body.' + resnet_key(rest)
  if head == 'fpn':
    kind, index = re.fullmatch(r'(inner|layer)(\d+)', rest[0]).groups()
    return f'backbone.fpn.{kind}_blocks.{index}.0'
  if head == 'rpn':
    return 'rpn.head.conv.0.0' if rest[0] == 'conv' else f'rpn.head.{rest[0]}'
  if head == 'box_head':
    return f'roi_heads.box_head.{rest[0]}'
  return f'roi_heads.box_predictor.{head}'


def is_torchvision_detector(state: dict) -> bool:
  return MARKER in state


def convert_faster_rcnn(state: dict, template: dict, source: str) -> dict:
  """Variables for every leaf of template from a torchvision Faster R-CNN state; the class
  predictor is left out (to stay freshly initialised) when its class count differs."""
  state = dict(state)
  fc6 = state.get('roi_heads.box_head.fc6.weight')
  channels = template['params']['fpn']['layer0']['kernel'].shape[-1]
  if fc6 is not None:
    state['roi_heads.box_head.fc6.weight'] = chw_to_hwc_rows(np.asarray(fc6), channels)
  return convert_state(state, template, faster_rcnn_key, source, skip_module=DETECTOR_HEADS)
