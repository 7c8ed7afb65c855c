"""The data source contract: what every source gives the tasks, methods and evaluators, which use
nothing else. Every source subclasses Source (detection sources DetectionSource) and so has every
attribute: one it has no value for is None, so callers test values, never whether an attribute exists.

Batches are dicts of local numpy arrays for this process: 'image' (B, H, W, C) normalised with mean
and std, 'label', and in eval batches 'mask' (1 for real examples, 0 for padding); detection adds
padded 'boxes' (B, G, 4) [ymin, xmin, ymax, xmax] normalised to the image, 'labels', 'box_valid'.
"""

import json
import os
from typing import Any, Iterator, Optional, Protocol, runtime_checkable

import jax
import numpy as np

from vision_jax.data.batching import Batch
from vision_jax.errors import UserError


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


CARD = 'source.json'   # WORKDIR/source.json: what prediction needs of the training data


def card_of(source: Source) -> dict:
  """The contract's values that fix how a model sees images (JSON-ready): the predictor rebuilds
  the model and its eval preprocessing from this, without the training data."""
  as_list = lambda v: None if v is None else np.asarray(v).tolist()  # noqa: E731
  return {'num_classes': int(source.num_classes), 'image_shape': list(source.image_shape),
          'mean': as_list(source.mean), 'std': as_list(source.std),
          'class_names': None if source.class_names is None else [str(n) for n in source.class_names],
          'target_shape': as_list(source.target_shape),
          **({'resize': source.resize if isinstance(source.resize, str) else list(source.resize),
              'category_ids': as_list(source.category_ids)} if isinstance(source, DetectionSource) else {})}


def write_card(workdir: str, source: Source, method: Optional[dict] = None) -> None:
  """WORKDIR/source.json (process 0 writes), with a generative method's own prediction values."""
  if jax.process_index() == 0:
    with open(os.path.join(workdir, CARD), 'w') as f:
      json.dump({**card_of(source), **({'method': method} if method else {})}, f, indent=1)


class StoredSource(DetectionSource):
  """A Source rebuilt from WORKDIR/source.json: every contract value, no data (prediction and
  export build models and methods from it)."""

  def __init__(self, card: dict):
    self.card = card
    self.num_classes = card['num_classes']
    self.image_shape = tuple(card['image_shape'])
    self.mean, self.std = np.asarray(card['mean'], np.float32), np.asarray(card['std'], np.float32)
    self.class_names = None if card.get('class_names') is None else tuple(card['class_names'])
    self.target_shape = None if card.get('target_shape') is None else tuple(card['target_shape'])
    resize = card.get('resize') or 'stretch'
    self.resize = resize if isinstance(resize, str) else (resize[0], *(float(v) for v in resize[1:]))
    self.category_ids = None if card.get('category_ids') is None else tuple(card['category_ids'])
    self.num_eval_examples = 0
    self.method = card.get('method', {})   # a generative method's prediction values (GenerativeMethod.card)

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    raise UserError('a stored source holds no data: it serves prediction only')

  def eval_batches(self) -> Iterator[Batch]:
    raise UserError('a stored source holds no data: it serves prediction only')


def read_card(workdir: str) -> StoredSource:
  """WORKDIR/source.json as a StoredSource; one line when it is missing."""
  path = os.path.join(workdir, CARD)
  if not os.path.isfile(path):
    raise UserError(f'{path} does not exist: train in {workdir} first (runs before this version did not write it: '
                    'relaunch the training command there to write it)')
  with open(path) as f:
    return StoredSource(json.load(f))
