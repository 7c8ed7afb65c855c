"""The detector contract: what a detector family supplies to the detection task, the VOC/COCO
evaluators, prediction pictures and the predict command, which never look inside it.

Batches carry images (B, H, W, C) and padded ground truth: boxes (B, G, 4) [ymin, xmin, ymax,
xmax] normalised to the model input, labels (B, G) 0-based, box_valid (B, G). Detections are
fixed-size and padded: boxes (B, D, 4) in model-input pixels, scores (B, D), labels (B, D),
valid (B, D).
"""

import dataclasses
from typing import Any, Callable, Optional

import flax.linen as nn
import jax

from vision_jax.registry import Registry

Batch = dict[str, jax.Array]
Detections = dict[str, jax.Array]


def no_model_kwargs(batch: Batch) -> dict:
  return {}


@dataclasses.dataclass(frozen=True)
class Detector:
  """model(images, train) -> outputs (a pure flax module; the backbone under params['backbone']).
  loss(outputs, batch, rng) -> (scalar loss, metrics): the family's own matching or sampling and
      loss, from training-mode outputs and the padded ground truth; rng derives from the step.
  postprocess(outputs) -> Detections in model-input pixels (decoding, NMS, fixed size).
  backbone: the zoo classifier whose pretrained weights params['backbone'] takes (init_from).
  model_kwargs(batch) -> extra training-mode inputs of the model (a two-stage detector's targets).
  import_weights(init_from, variables) -> the whole detector's variables from a file of another
      framework's detector (e.g. torchvision's), or None when init_from is not one (then init_from
      is the backbone's weights).
  eval_counts(outputs, batch) -> {name: (hits, total)} summed over the test set and reported as
      hits / total beside AP (e.g. the RPN's recall), from eval-mode outputs.
  """
  model: nn.Module
  loss: Callable[[Any, Batch, jax.Array], tuple[jax.Array, dict]]
  postprocess: Callable[[Any], Detections]
  backbone: Optional[str] = None
  model_kwargs: Callable[[Batch], dict] = no_model_kwargs
  import_weights: Optional[Callable[[str, dict], Optional[dict]]] = None
  eval_counts: Optional[Callable[[Any, Batch], dict]] = None

  def detect(self, variables: dict, images: jax.Array) -> Detections:
    """Padded detections in model-input pixels of eval-mode images (B, H, W, C): the inference of the
    evaluators, the pictures and prediction. Pure: jit it."""
    return self.postprocess(self.model.apply(variables, images, train=False))


def records_of(detections: dict, index: int, boxes_px, class_names, min_score: float) -> list[dict]:
  """[{'box': [ymin, xmin, ymax, xmax] px, 'label': name, 'score'}] of image `index` of padded
  detections (host arrays), above min_score, with boxes_px its boxes in the pixels wanted."""
  return [{'box': [round(float(v), 1) for v in box], 'label': class_names[int(label)], 'score': round(float(score), 4)}
          for box, label, score, valid in zip(boxes_px, detections['labels'][index], detections['scores'][index],
                                              detections['valid'][index])
          if valid and score >= min_score]


# family name -> build(config, num_classes, image_shape) -> Detector; detection/families.py imports
# every family module, which registers itself.
DETECTORS: Registry[Callable[..., Detector]] = Registry('detector')
