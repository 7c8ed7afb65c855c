"""SSD default boxes as in the released SSD configurations (Caffe SSD, ssd.pytorch), which differ
from the paper's scale formula: explicit box sizes in pixels per feature map.

Per location of feature map k (centres at (i + 0.5) * step_k / image_size), in this order:
a square of size min_k, a square of size sqrt(min_k * max_k), then for each aspect ratio r a box
min_k * sqrt(r) wide and min_k / sqrt(r) tall and its flip. SSD300: 8,732 boxes; SSD512: 24,564.
Most layouts chain (max_k = min_{k+1}) and are written as one list of sizes.
"""

import dataclasses
import itertools
import math
from typing import Optional, Sequence

import numpy as np

from vision_jax.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class DefaultBoxSpec:
  """The anchor layout of one detector; sizes in pixels at `image_size`."""
  image_size: int
  feature_maps: tuple[int, ...]
  min_sizes: tuple[float, ...]
  max_sizes: tuple[float, ...]
  aspect_ratios: tuple[tuple[float, ...], ...]
  steps: Optional[tuple[float, ...]] = None  # pixels between centres; default image_size / f_k
  clip: bool = True

  def boxes_per_location(self) -> tuple[int, ...]:
    return tuple(2 + 2 * len(ratios) for ratios in self.aspect_ratios)


def chained(sizes: Sequence[float]) -> dict:
  """{'min_sizes', 'max_sizes'} from one chained list: min_k = sizes[k], max_k = sizes[k + 1]."""
  return {'min_sizes': tuple(sizes[:-1]), 'max_sizes': tuple(sizes[1:])}


SSD300_RATIOS = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))
SSD512_RATIOS = ((2,), (2, 3), (2, 3), (2, 3), (2, 3), (2,), (2,))
SSD300_VOC = DefaultBoxSpec(300, (38, 19, 10, 5, 3, 1), **chained((30, 60, 111, 162, 213, 264, 315)),
                            aspect_ratios=SSD300_RATIOS, steps=(8, 16, 32, 64, 100, 300))
SSD300_COCO = DefaultBoxSpec(300, (38, 19, 10, 5, 3, 1), **chained((21, 45, 99, 153, 207, 261, 315)),
                             aspect_ratios=SSD300_RATIOS, steps=(8, 16, 32, 64, 100, 300))
# Caffe SSD's ssd_pascal_512.py: 4%/10% on conv4_3, then 15% to 90% of 512 in steps of 15%.
SSD512_VOC = DefaultBoxSpec(512, (64, 32, 16, 8, 4, 2, 1), (20.48, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8),
                            (51.2, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6), SSD512_RATIOS,
                            (8, 16, 32, 64, 128, 256, 512))
SSD512_COCO = DefaultBoxSpec(512, (64, 32, 16, 8, 4, 2, 1),
                             **chained((20.48, 51.2, 133.12, 215.04, 296.96, 378.88, 460.8, 542.72)),
                             aspect_ratios=SSD512_RATIOS, steps=(8, 16, 32, 64, 128, 256, 512))


# SSDLite (Sandler et al. 2018) at 320 px on EfficientNet-Lite0: chained sizes, centres at input / map.
SSDLITE320 = DefaultBoxSpec(320, (20, 10, 5, 3, 2, 1), **chained((32, 64, 118, 172, 226, 280, 336)),
                            aspect_ratios=SSD300_RATIOS)


def spec_from_config(config, image_size: int, feature_maps: Sequence[int]) -> DefaultBoxSpec:
  """A spec from config {min_sizes, max_sizes (pixels), aspect_ratios, steps (optional), clip}, the
  input size and the model's feature map sizes, so any input size and pyramid gets its boxes."""
  steps = tuple(float(s) for s in config.get('steps') or ()) or None
  return DefaultBoxSpec(int(image_size), tuple(int(f) for f in feature_maps),
                        min_sizes=tuple(float(s) for s in config.min_sizes),
                        max_sizes=tuple(float(s) for s in config.max_sizes),
                        aspect_ratios=tuple(tuple(float(r) for r in ratios) for ratios in config.aspect_ratios),
                        steps=steps, clip=bool(config.get('clip', True)))


def default_boxes(spec: DefaultBoxSpec) -> np.ndarray:
  """(N, 4) center-form boxes [cy, cx, h, w], normalised, in the order the SSD heads predict them:
  feature map, then row, column, then box."""
  n = len(spec.feature_maps)
  if not len(spec.min_sizes) == len(spec.max_sizes) == len(spec.aspect_ratios) == n:
    raise ConfigError(f'{n} feature maps need {n} min sizes, max sizes and aspect-ratio lists, got '
                     f'{len(spec.min_sizes)}, {len(spec.max_sizes)} and {len(spec.aspect_ratios)}')
  boxes = []
  for k, f in enumerate(spec.feature_maps):
    step = spec.steps[k] if spec.steps else spec.image_size / f
    s = spec.min_sizes[k] / spec.image_size
    s_extra = math.sqrt(s * spec.max_sizes[k] / spec.image_size)
    shapes = [(s, s), (s_extra, s_extra)]
    for r in spec.aspect_ratios[k]:
      shapes += [(s / math.sqrt(r), s * math.sqrt(r)), (s * math.sqrt(r), s / math.sqrt(r))]  # (h, w)
    for i, j in itertools.product(range(f), repeat=2):
      cy, cx = (i + 0.5) * step / spec.image_size, (j + 0.5) * step / spec.image_size
      boxes += [(cy, cx, h, w) for h, w in shapes]
  out = np.asarray(boxes, np.float32)
  return np.clip(out, 0.0, 1.0) if spec.clip else out
