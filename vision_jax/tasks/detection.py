"""Object detection (config.task == 'detection') with any registered detector family
(config.detector: 'ssd'; see vision_jax/detection/detector.py for the contract).

Training minimises the family's loss; config.evals names the evaluators (by default VOC AP every
config.eval_every_steps, COCO metrics for COCO data, and prediction pictures at the end). With
config.predict_image set (a file or a folder), the run instead detects in those images with
WORKDIR's checkpoint (vision_jax/inference/folder.py): COCO-format results, boxes in each image's
own pixels.
"""

import functools

import flax
import jax
import ml_collections
import numpy as np
import optax
from absl import logging

from vision_jax import models
from vision_jax.data import build_detection_source
from vision_jax.data.source import DetectionSource, write_card
from vision_jax.detection.detector import Detector
from vision_jax.detection.families import build_detector
from vision_jax.errors import UserError
from vision_jax.evaluation.evaluators import build_evaluators
from vision_jax.tasks.registry import TASKS
from vision_jax.tasks.use_trained import run_instead_of_training
from vision_jax.train import parallel
from vision_jax.train.loop import Method, dry_run_report, train_and_evaluate
from vision_jax.train.optimizers import optimizer_from_config
from vision_jax.train.state import TrainState, create_train_state, place_like
from vision_jax.train.steps import apply_for_training
from vision_jax.weights.pretrained import load_pretrained

Batch = dict[str, jax.Array]


def make_train_step(detector: Detector, learning_rate_fn: optax.Schedule, freeze: str = '',
                    freeze_batch_stats: str = ''):
  """Returns the pure train_step(state, batch, rng) -> (state, metrics): the detector's loss.
  BatchNorm layers matched by freeze_batch_stats keep their running statistics (detection
  backbones' frozen BatchNorm)."""

  def loss_fn(params, batch_stats, batch: Batch, rng: jax.Array):
    outputs, batch_stats = apply_for_training(detector.model, params, batch_stats, batch['image'], rng, freeze,
                                              freeze_batch_stats, **detector.model_kwargs(batch))
    loss, metrics = detector.loss(outputs, batch, jax.random.fold_in(rng, 1))
    return loss, (metrics, batch_stats)

  def train_step(state: TrainState, batch: Batch, rng: jax.Array):
    rng = jax.random.fold_in(rng, state.step)
    (_, (metrics, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, state.batch_stats, batch, rng)
    new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
    return new_state, {**metrics, 'grad_norm': optax.global_norm(grads), 'learning_rate': learning_rate_fn(state.step)}

  return train_step


def initialize_backbone(state: TrainState, init_from: str, classifier: str, image_shape) -> TrainState:
  """Copies a zoo classifier's pretrained weights (named, file or checkpoint) into params['backbone']
  (and its BatchNorm statistics); the detector's own layers stay fresh."""
  model = models.build_model(ml_collections.ConfigDict({'name': classifier}), 1000)
  loaded = load_pretrained(init_from, classifier, model, image_shape, skip_head=models.head_name(classifier))
  variables = jax.device_get(state.variables())
  copied = []
  for collection in ('params', 'batch_stats'):
    if collection not in variables or 'backbone' not in variables[collection]:
      continue
    target = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables[collection]['backbone']))
    source = flax.traverse_util.flatten_dict(flax.core.unfreeze(loaded.get(collection, {})))
    for path, value in target.items():
      if path in source and np.shape(source[path]) == np.shape(value):
        target[path] = np.asarray(source[path], np.float32)
        copied.append('/'.join(path))
    variables[collection] = {**variables[collection], 'backbone': flax.traverse_util.unflatten_dict(target)}
  if not copied:
    raise UserError(f'init_from {init_from} has no weights for the {classifier} backbone')
  logging.info('initialised %d backbone tensors from %s', len(copied), init_from)
  return place_like(variables, state)


def merge_variables(state: TrainState, loaded: dict) -> dict:
  """The state's variables with every leaf that `loaded` holds replaced (the rest stay fresh)."""
  variables = flax.traverse_util.flatten_dict(flax.core.unfreeze(jax.device_get(state.variables())))
  loaded = flax.traverse_util.flatten_dict(flax.core.unfreeze(loaded))
  variables.update({path: np.asarray(value, np.float32) for path, value in loaded.items()})
  return flax.traverse_util.unflatten_dict(variables)


def initialize_detector(state: TrainState, init_from: str, detector: Detector, image_shape) -> TrainState:
  """config.init_from: a whole detector's weights when the family imports that file (torchvision's
  Faster R-CNN), else a zoo classifier's weights for the backbone."""
  loaded = detector.import_weights(init_from, jax.device_get(state.variables())) if detector.import_weights else None
  if loaded is not None:
    logging.info('initialised the whole detector from %s', init_from)
    return place_like(merge_variables(state, loaded), state)
  if detector.backbone is None:
    raise UserError(f'init_from {init_from} is not a whole-detector file and this backbone has no pretrained weights')
  return initialize_backbone(state, init_from, detector.backbone, image_shape)


def backbone_initializer(config, detector: Detector, image_shape):
  """Method.initialize for config.init_from, or None."""
  if not config.get('init_from'):
    return None
  if detector.backbone is None and detector.import_weights is None:
    raise UserError(f'init_from needs a pretrained backbone; {config.model.name!r} has none')
  return functools.partial(initialize_detector, init_from=config.init_from, detector=detector,
                           image_shape=image_shape)


def build_source(config, process_index: int = 0, process_count: int = 1, overrides=None):
  """config.dataset's detection source (with `overrides` of its keys, for an evaluator's own split)."""
  dataset = config.dataset.copy_and_resolve_references()
  if overrides:
    with dataset.unlocked():
      dataset.update(overrides)
  return build_detection_source(dataset, config.batch_size, config.eval_batch_size, config.seed,
                                process_index, process_count)


def build(config, workdir: str) -> tuple[Method, list, DetectionSource]:
  """Validates the config; returns the Method, its evaluators and the data source."""
  parallel.check_batch_size('batch_size', config.batch_size)
  parallel.check_batch_size('eval_batch_size', config.eval_batch_size)
  lr_fn, tx = optimizer_from_config(config)
  models.compute_dtype(config.model.get('dtype', 'float32'))
  source = build_source(config, jax.process_index(), jax.process_count())
  image_shape = tuple(source.image_shape)
  detector = build_detector(config, source.num_classes, image_shape)
  method = Method(
      create_state=functools.partial(create_train_state, model=detector.model, tx=tx, image_shape=image_shape),
      train_step=make_train_step(detector, lr_fn, config.get('freeze', ''), config.get('freeze_batch_stats', '')),
      train_batches=source.train_batches, initialize=backbone_initializer(config, detector, image_shape))
  make_source = functools.partial(build_source, config, jax.process_index(), jax.process_count())  # (overrides)
  evaluators = build_evaluators(config, {'detector': detector, 'source': source, 'workdir': workdir,
                                         'make_source': make_source})
  return method, evaluators, source


@TASKS.register('detection')
def run(config, workdir: str, dry_run: bool = False):
  """Train and evaluate, or export or predict with the workdir's model (tasks/use_trained.py)."""
  if dry_run:
    return dry_run_report(config, build(config, workdir)[0])
  if run_instead_of_training(config, workdir):
    return None
  method, evaluators, source = build(config, workdir)
  write_card(workdir, source)
  return train_and_evaluate(config, workdir, method, evaluators).final
