"""Predictors: a trained model with its eval preprocessing, applied to images of any size in fixed
batches through one jitted function. `load(workdir)` rebuilds what WORKDIR trained from its
config.json, source.json and newest checkpoint; the training data is not needed.

  predictor = vision_jax.inference.load('runs/digit_scenes_ssd')
  results = predictor.predict(['scene.png', array])   # one result per image, in order
"""

import json
import os
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tensorflow as tf

from vision_jax import models
from vision_jax.data.eval_inputs import classification_input, detection_input
from vision_jax.data.source import StoredSource, read_card
from vision_jax.data.tfds_source import parallel_map, tf_options
from vision_jax.detection.boxes import to_image_pixels
from vision_jax.detection.families import build_detector
from vision_jax.errors import UserError
from vision_jax.evaluation.predictions import top_k
from vision_jax.inference.inputs import Image, batched_apply, read
from vision_jax.registry import Registry
from vision_jax.train.checkpoint import latest_checkpoint, variables_from_checkpoint


class Predictor:
  """Reads each image (path or array) in the model's channels, prepares it as the eval pipeline
  does, runs the jitted `apply(variables, batch)` (pure: export converts it) over batches of
  batch_size (the last padded) and hands each image's outputs, with the image, to `result`."""

  def __init__(self, config, source: StoredSource, variables: dict, prepare: Callable, apply: Callable,
               batch_size: int = 16):
    self.config, self.source, self.variables, self.batch_size = config, source, variables, batch_size
    self._prepare, self.apply, self._apply = prepare, apply, jax.jit(apply)

  @property
  def channels(self) -> int:
    return self.source.image_shape[-1]

  def prepare(self, images: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 (H, W, C) images of any sizes -> their stacked model inputs, through a tf.data map as in
    the eval pipelines (same graph optimisations, so bit-identical arrays)."""
    ds = parallel_map(tf.data.Dataset.from_generator(lambda: iter(images), output_signature=tf.TensorSpec(
        (None, None, self.channels), tf.uint8)), self._prepare)
    return np.stack(list(ds.with_options(tf_options()).as_numpy_iterator()))

  def outputs(self, inputs: np.ndarray) -> dict:
    """The model's outputs (host arrays) for a stack of prepared inputs."""
    return batched_apply(self._apply, self.variables, (inputs,), self.batch_size)

  @staticmethod
  def as_list(images) -> list:
    """One image (a path or an (H, W[, C]) array) or a sequence of them, as a list."""
    if isinstance(images, (str, os.PathLike)) or (isinstance(images, np.ndarray) and images.ndim < 4):
      return [images]
    return list(images)

  def read(self, item: Image) -> np.ndarray:
    return read(item, self.channels)

  def predict(self, images: Sequence[Image], **options) -> list:
    """One result per image (paths or arrays of any size), in order."""
    return self.predict_read([self.read(item) for item in self.as_list(images)], **options)

  def predict_read(self, originals: list[np.ndarray], **options) -> list:
    """predict() of images already read in the model's channels (uint8 (H, W, C))."""
    if not originals:
      return []
    out = self.outputs(self.prepare(originals))
    return [self.result(image, jax.tree.map(lambda x: x[i], out), **options) for i, image in enumerate(originals)]

  def result(self, image: np.ndarray, outputs, **options):
    raise NotImplementedError


class Classifier(Predictor):
  """predict(images, k=5) -> [{'top_k': [{'index', 'name', 'prob'}] most probable first,
  'probabilities': (num_classes,)}]."""

  def __init__(self, config, source: StoredSource, variables: dict, batch_size: int = 16):
    model = models.build_model(config.model, source.num_classes)

    def classify(variables, x):
      logits, _ = model.apply(variables, x, train=False)
      logits = logits.astype(jnp.float32)
      return {'logits': logits, 'probabilities': jax.nn.softmax(logits)}
    super().__init__(config, source, variables, classification_input(config.dataset, source.image_shape[0]),
                     classify, batch_size)
    self.class_names = list(source.class_names or [str(i) for i in range(source.num_classes)])

  def result(self, image, outputs, k: int = 5):
    probs = outputs['probabilities']
    return {'top_k': top_k(probs, min(k, len(self.class_names)), self.class_names), 'probabilities': probs,
            'logits': outputs['logits']}


class Detector(Predictor):
  """predict(images, min_score=0.0) -> [{'boxes': (K, 4) [ymin, xmin, ymax, xmax] in the image's own
  pixels, 'scores' (K,), 'labels' (K,) 0-based, 'names' [K], 'category_ids' [K] (the dataset's COCO
  ids, else label + 1)}], highest scores first, after the family's post-processing (NMS)."""

  def __init__(self, config, source: StoredSource, variables: dict, batch_size: int = 16):
    self.detector = build_detector(config, source.num_classes, source.image_shape)
    super().__init__(config, source, variables,
                     detection_input(source.image_shape[0], source.resize, source.mean, source.std),
                     self.detector.detect, batch_size)
    self.class_names = list(source.class_names or [str(i) for i in range(source.num_classes)])
    self.category_ids = list(source.category_ids or range(1, source.num_classes + 1))

  def result(self, image, detections, min_score: float = 0.0):
    keep = detections['valid'] & (detections['scores'] >= min_score)
    order = np.argsort(-detections['scores'][keep], kind='stable')
    boxes = to_image_pixels(detections['boxes'][keep][order], image.shape[:2], self.source.image_shape[:2],
                            self.source.resize).astype(np.float32)
    labels = detections['labels'][keep][order].astype(np.int32)
    return {'boxes': boxes, 'scores': detections['scores'][keep][order].astype(np.float32), 'labels': labels,
            'names': [self.class_names[i] for i in labels], 'category_ids': [self.category_ids[i] for i in labels]}


# config.task -> (config, stored source, workdir, step_dir, batch_size) -> Predictor
PREDICTORS: Registry[Callable[..., Predictor]] = Registry('predictor')


@PREDICTORS.register('classification')
def classifier(config, source, workdir: str, step_dir: str, batch_size: int) -> Classifier:
  return Classifier(config, source, variables_from_checkpoint(step_dir, 'prediction'), batch_size)


@PREDICTORS.register('detection')
def detector(config, source, workdir: str, step_dir: str, batch_size: int) -> Detector:
  return Detector(config, source, variables_from_checkpoint(step_dir, 'prediction'), batch_size)


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """WORKDIR/config.json (written when training starts) as a ConfigDict."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.isfile(path):
    raise UserError(f'{path} does not exist: {workdir} is not a training workdir (train there first)')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def checkpoint_dir(workdir: str, step: Optional[int] = None) -> str:
  """The newest (or the given step's) checkpoint folder of WORKDIR; one line when there is none."""
  newest = latest_checkpoint(workdir)
  if newest is None:
    raise UserError(f'no checkpoint in {workdir}: train there first')
  if step is None:
    return newest
  step_dir = os.path.join(os.path.dirname(newest), str(step))
  if not os.path.isdir(step_dir):
    raise UserError(f'no checkpoint of step {step} in {workdir} (the newest is step {os.path.basename(newest)})')
  return step_dir


def load(workdir: str, step: Optional[int] = None, batch_size: int = 16, conv_impl: Optional[str] = None) -> Predictor:
  """The predictor for what WORKDIR trained (its newest checkpoint, or `step`'s); conv_impl
  overrides the networks' CPU convolution ('xla' for export: no oneDNN custom call)."""
  config = read_config(workdir)
  if conv_impl is not None:
    for block in ('model', 'gan'):
      if block in config:
        config[block].conv_impl = conv_impl
  if config.get('task') not in PREDICTORS.names():
    raise UserError(f'{workdir} trained task {config.get("task")!r}, which has no predictor; '
                    f'predictors: {", ".join(PREDICTORS.names())}')
  source = read_card(workdir)
  return PREDICTORS.get(config.task)(config, source, workdir, checkpoint_dir(workdir, step), batch_size)
