"""The data source contract: what every source gives the tasks, methods and evaluators, which use
nothing else. Every source subclasses Source (detection sources DetectionSource) and so has every
attribute: one it has no value for is None, so callers test values, never whether an attribute exists.

Batches are dicts of local numpy arrays for this process: 'image' (B, H, W, C) normalised with mean
and std, 'label', and in eval batches 'mask' (1 for real examples, 0 for padding); detection adds
padded 'boxes' (B, G, 4) [ymin, xmin, ymax, xmax] normalised to the image, 'labels', 'box_valid'.
"""

from typing import Any, Iterator, Optional, Protocol, runtime_checkable

import numpy as np

from vision_jax.data.batching import Batch


@runtime_checkable
class Source(Protocol):
  """num_classes, image_shape (H, W, C) of the model input, num_eval_examples, the normalisation
  (mean, std in [0, 1] pixel units), class_names (label i's name, or None), target_shape (a second,
  unpaired domain's image shape, or None); train_batches(start_step) is infinite and resumable,
  eval_batches() gives each eval example exactly once (masked)."""
  num_classes: int
  image_shape: tuple[int, ...]
  num_eval_examples: int
  mean: np.ndarray
  std: np.ndarray
  class_names: Optional[tuple[str, ...]] = None
  target_shape: Optional[tuple[int, ...]] = None

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]: ...

  def eval_batches(self) -> Iterator[Batch]: ...

  def split_images(self, split: str) -> Optional[np.ndarray]:
    """Every normalised image of the 'train' or 'test' split for an in-memory source; None when streamed."""
    return None

  def target_batches(self) -> Optional[Iterator[Batch]]:
    """The second domain's eval images (real B for FID) of an unpaired source; None otherwise."""
    return None


@runtime_checkable
class DetectionSource(Source, Protocol):
  """A Source of detection batches, with how images were resized to the input ('stretch',
  'letterbox' or ('min_max', min, max): detections map back to the original pixels through it), the
  dataset's COCO category ids of labels 0..C-1 (or None: label + 1) and its COCO-format ground truth
  (or None: evaluators build it from the eval batches)."""
  resize: Any = 'stretch'
  category_ids: Optional[tuple[int, ...]] = None
  coco_ground_truth: Optional[dict] = None
