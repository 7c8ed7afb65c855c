"""DETECTORS: family name -> build(config, num_classes, image_shape) -> Detector."""

from typing import Callable

from vision_jax.registry import Registry

DETECTORS: Registry[Callable] = Registry('detector')
