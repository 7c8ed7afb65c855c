"""Every detector family, registered by importing its module; build_detector picks config.detector's."""

from vision_jax.detection import faster_rcnn, retinanet, ssd, yolo, yolov1  # noqa: F401  (they register)
from vision_jax.detection.detector import DETECTORS, Detector


def build_detector(config, num_classes: int, image_shape: tuple[int, ...]) -> Detector:
  """The config.detector family's Detector for num_classes object classes at image_shape."""
  return DETECTORS.get(config.get('detector', 'ssd'))(config, num_classes, image_shape)
