"""Detector families (see base.py for the contract), registered by name: config.detector."""

from vision_jax.detectors import faster_rcnn, ssd, yolo, yolov1
from vision_jax.detectors.base import Detector
from vision_jax.detectors.registry import DETECTORS

__all__ = ['DETECTORS', 'Detector', 'build_detector', 'faster_rcnn', 'ssd', 'yolo', 'yolov1']


def build_detector(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """The config.detector family's Detector for num_classes object classes at image_shape."""
  return DETECTORS.get(config.get('detector', 'ssd'))(config, num_classes, image_shape)
