"""Object detection with SSD (config.task == 'detection').

train_step matches padded ground truth to the default boxes inside the jitted step and
minimises the MultiBox loss; eval_step decodes and runs per-class NMS on the devices, and the
host computes VOC AP from every test image's detections (metrics `mAP50`, all-point, and
`mAP50_voc07`). With config.predict_image set, the run instead loads WORKDIR's checkpoint and
writes WORKDIR/detections.json and an annotated PNG for that image.
"""

import functools
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax import models
from vision_jax.data import build_detection_source
from vision_jax.detection.default_boxes import default_boxes, spec_from_config
from vision_jax.detection.loss import multibox_loss
from vision_jax.detection.matching import batch_match
from vision_jax.detection.nms import postprocess
from vision_jax.errors import UserError
from vision_jax.evaluation.voc import voc_map
from vision_jax.tasks.classification import apply_for_training, create_train_state, optimizer_from_config
from vision_jax.train import parallel
from vision_jax.train.loop import Task, train_and_evaluate
from vision_jax.train.state import TrainState

Batch = dict[str, jax.Array]

# SSD backbone -> the zoo classifier whose pretrained weights it reuses.
BACKBONE_CLASSIFIERS = {'vgg16': 'vgg16', 'resnet18': 'resnet18', 'resnet34': 'resnet34',
                        'resnet50': 'resnet50', 'efficientnet_lite0': 'efficientnet_lite0'}


def make_train_step(model: nn.Module, priors: jnp.ndarray, learning_rate_fn: optax.Schedule,
                    match_threshold: float = 0.5, neg_pos_ratio: float = 3.0, freeze: str = ''):
  """Returns the pure train_step(state, batch, rng) -> (state, metrics)."""

  def loss_fn(params, batch_stats, batch: Batch, rng: jax.Array):
    ((loc, logits), _), batch_stats = apply_for_training(model, params, batch_stats, batch['image'], rng, freeze)
    loc_targets, cls_targets = batch_match(batch['boxes'], batch['labels'], batch['box_valid'], priors,
                                           match_threshold)
    losses = multibox_loss(loc, logits, loc_targets, cls_targets, neg_pos_ratio)
    return losses['loss'], (losses, batch_stats)

  def train_step(state: TrainState, batch: Batch, rng: jax.Array):
    rng = jax.random.fold_in(rng, state.step)
    (_, (losses, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, state.batch_stats, batch, rng)
    new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
    metrics = {**losses, 'num_positive': losses['num_positive'].astype(jnp.float32),
               'grad_norm': optax.global_norm(grads), 'learning_rate': learning_rate_fn(state.step)}
    return new_state, metrics

  return train_step


def make_eval_step(model: nn.Module, priors: jnp.ndarray, nms_config):
  """Returns eval_step(state, batch) -> the batch's detections, with its ground truth passed through."""

  def eval_step(state: TrainState, batch: Batch):
    (loc, logits), _ = model.apply(state.variables(), batch['image'], train=False)
    detections = postprocess(loc, logits, priors, nms_config.score_threshold, nms_config.iou_threshold,
                             nms_config.pre_nms_top_k, nms_config.max_detections)
    passed = {k: batch[k] for k in ('image_id', 'image_hw') if k in batch}
    return {**detections, **passed, 'gt_boxes': batch['boxes'], 'gt_labels': batch['labels'],
            'gt_valid': batch['box_valid'], 'gt_difficult': batch.get('difficult', jnp.zeros_like(batch['box_valid'])),
            'mask': batch['mask']}

  return eval_step


def detection_lists(outputs: list[dict]) -> tuple[list, list]:
  """Host-side (detections, ground truth) lists for voc_map from the collected eval outputs."""
  detections, ground_truth, image = [], [], 0
  for out in outputs:
    for i in range(len(out['mask'])):
      if not out['mask'][i]:
        continue
      for box, label, score, valid in zip(out['boxes'][i], out['labels'][i], out['scores'][i], out['valid'][i]):
        if valid:
          detections.append((image, int(label), float(score), box))
      for box, label, valid, difficult in zip(out['gt_boxes'][i], out['gt_labels'][i], out['gt_valid'][i],
                                              out['gt_difficult'][i]):
        if valid:
          ground_truth.append((image, int(label), box, bool(difficult)))
      image += 1
  return detections, ground_truth


def coco_lists(outputs: list[dict], category_ids) -> tuple[list, list, list]:
  """(images, ground truth, detections) in COCO's format (pixel xywh, COCO category ids)."""
  from vision_jax.evaluation.coco import to_xywh
  images, ground_truth, detections = [], [], []
  for out in outputs:
    for i in np.flatnonzero(out['mask']):
      image_id, (height, width) = int(out['image_id'][i]), out['image_hw'][i]
      images.append({'id': image_id, 'height': int(height), 'width': int(width)})
      for box, label, valid, crowd in zip(out['gt_boxes'][i], out['gt_labels'][i], out['gt_valid'][i],
                                          out['gt_difficult'][i]):
        if valid:
          ground_truth.append({'image_id': image_id, 'category_id': category_ids[int(label)],
                               'bbox': to_xywh(box, height, width), 'iscrowd': int(crowd)})
      for box, label, score, valid in zip(out['boxes'][i], out['labels'][i], out['scores'][i], out['valid'][i]):
        if valid:
          detections.append({'image_id': image_id, 'category_id': category_ids[int(label)],
                             'bbox': to_xywh(box, height, width), 'score': float(score)})
  return images, ground_truth, detections


def summarise_eval(outputs: list[dict], num_classes: int, coco_category_ids=None) -> dict:
  """VOC mAP@0.5 (all-point and VOC07 11-point) and, with COCO category ids, COCOeval's metrics."""
  detections, ground_truth = detection_lists(outputs)
  num_images = int(sum(np.sum(out['mask']) for out in outputs))
  metrics = {'mAP50': voc_map(detections, ground_truth, num_classes)['mAP'],
             'mAP50_voc07': voc_map(detections, ground_truth, num_classes, use_07_metric=True)['mAP'],
             'num_examples': float(num_images)}
  if coco_category_ids is not None:
    from vision_jax.evaluation.coco import coco_metrics
    metrics.update(coco_metrics(*coco_lists(outputs, coco_category_ids), list(coco_category_ids)))
  return metrics


def default_box_spec(config, model_config, num_classes: int, image_shape: tuple[int, ...]):
  """The default-box spec for the model's actual feature maps at this input size."""
  probe = models.build_model(model_config, num_classes)
  _, features = jax.eval_shape(lambda x: probe.init_with_output(jax.random.PRNGKey(0), x)[0],
                               jnp.zeros((1, *image_shape)))
  maps = [features[f'source{k}'].shape[1] for k in range(len(features))]
  try:
    return spec_from_config(config.default_boxes, image_shape[0], maps)
  except ValueError as e:
    raise UserError(f'config.default_boxes does not fit {model_config.name}: {e}') from None


def build_model(config, num_classes: int, image_shape: tuple[int, ...]) -> tuple[nn.Module, jnp.ndarray]:
  """The detector with as many boxes per location as config.default_boxes asks, and its priors."""
  ratios = config.default_boxes.aspect_ratios
  model_config = config.model.copy_and_resolve_references()
  with model_config.unlocked():
    model_config.boxes_per_location = tuple(2 + 2 * len(r) for r in ratios)
  spec = default_box_spec(config, model_config, num_classes, image_shape)
  return models.build_model(model_config, num_classes), jnp.asarray(default_boxes(spec))


def initialize_backbone(state: TrainState, init_from: str, backbone: str, image_shape) -> TrainState:
  """Copies a zoo classifier's pretrained weights (named, file or checkpoint) into params['backbone']
  (and its BatchNorm statistics); SSD's own layers (conv6, conv7, L2Norm, extras, heads) stay fresh."""
  from absl import logging
  from vision_jax.weights.pretrained import load_pretrained
  if backbone not in BACKBONE_CLASSIFIERS:
    raise UserError(f'init_from needs a pretrained backbone; {backbone!r} has none (choose one of: '
                    f'{", ".join(BACKBONE_CLASSIFIERS)})')
  name = BACKBONE_CLASSIFIERS[backbone]
  import ml_collections
  classifier = models.build_model(ml_collections.ConfigDict({'name': name}), 1000)
  loaded = load_pretrained(init_from, name, classifier, image_shape, skip_head=models.head_name(name))
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
    raise UserError(f'init_from {init_from} has no weights for the {backbone} backbone')
  logging.info('initialised %d backbone tensors from %s', len(copied), init_from)
  placed = jax.tree.map(lambda new, old: jax.device_put(new, old.sharding), variables, state.variables())
  return state.replace(params=placed['params'], batch_stats=placed.get('batch_stats'))


def coco_category_ids(source):
  """COCO's category ids by label for a COCO source, else None."""
  if not getattr(source, 'is_coco', False):
    return None
  from vision_jax.data.tfds_detection import COCO_CATEGORY_IDS
  return COCO_CATEGORY_IDS


def build_task(config) -> Task:
  parallel.check_batch_size('batch_size', config.batch_size)
  parallel.check_batch_size('eval_batch_size', config.eval_batch_size)
  lr_fn, tx = optimizer_from_config(config)
  freeze = config.get('freeze', '')
  models.compute_dtype(config.model.get('dtype', 'float32'))
  models.MODELS.get(config.model.name)
  source = build_detection_source(config.dataset, config.batch_size, config.eval_batch_size, config.seed,
                                  jax.process_index(), jax.process_count())
  image_shape = tuple(source.image_shape)
  model, priors = build_model(config, source.num_classes, image_shape)
  initialize = None
  if config.get('init_from'):
    initialize = functools.partial(initialize_backbone, init_from=config.init_from,
                                   backbone=config.model.get('backbone', model.backbone), image_shape=image_shape)
  return Task(
      create_state=functools.partial(create_train_state, model=model, tx=tx, image_shape=image_shape),
      train_step=make_train_step(model, priors, lr_fn, config.matching.iou_threshold,
                                 config.matching.neg_pos_ratio, freeze),
      eval_step=make_eval_step(model, priors, config.nms),
      summarise_eval=functools.partial(summarise_eval, num_classes=source.num_classes,
                                       coco_category_ids=coco_category_ids(source)),
      source=source, initialize=initialize, collect_eval=True, plot_keys=('loss', 'mAP50'))


def run(config, workdir: str) -> Any:
  """Entry point for config.task == 'detection': train and evaluate, or predict one image."""
  if config.get('predict_image'):
    from vision_jax.tasks.detection_predict import predict_image
    return predict_image(config, workdir)
  result = train_and_evaluate(config, workdir, build_task(config))
  if jax.process_index() == 0 and config.get('num_prediction_pictures', 0):
    from vision_jax.tasks.detection_predict import draw_test_predictions
    draw_test_predictions(config, workdir)
  return result
