"""Detections from a trained detector's checkpoint: one image file to WORKDIR/detections.json and
an annotated PNG, and prediction pictures of test images in WORKDIR/plots/."""

import json
import os

import jax
import numpy as np

from vision_jax.data import build_detection_source
from vision_jax.data.images import read_rgb
from vision_jax.detection.nms import postprocess
from vision_jax.errors import UserError
from vision_jax.tasks import detection
from vision_jax.weights.transfer import latest_checkpoint, variables_from_checkpoint


def load_detector(config, workdir: str):
  """(source, predict_fn(images) -> detections dict) from the newest checkpoint in workdir."""
  step_dir = latest_checkpoint(workdir)
  if step_dir is None:
    raise UserError(f'no checkpoint in {workdir}: train there first (the same command without predict_image)')
  source = build_detection_source(config.dataset, config.batch_size, config.eval_batch_size, config.seed)
  model, priors = detection.build_model(config, source.num_classes, tuple(source.image_shape))
  variables = variables_from_checkpoint(step_dir)
  nms = config.nms

  @jax.jit
  def predict(images):
    (loc, logits), _ = model.apply(variables, images, train=False)
    return postprocess(loc, logits, priors, nms.score_threshold, nms.iou_threshold, nms.pre_nms_top_k,
                       nms.max_detections)
  return source, predict


def to_records(detections: dict, index: int, height: int, width: int, class_names, min_score: float) -> list[dict]:
  """[{'box': [ymin, xmin, ymax, xmax] in pixels, 'label': name, 'score': s}] above min_score."""
  scale = np.array([height, width, height, width], np.float32)
  records = []
  for box, label, score, valid in zip(detections['boxes'][index], detections['labels'][index],
                                      detections['scores'][index], detections['valid'][index]):
    if valid and score >= min_score:
      records.append({'box': [round(float(v), 1) for v in np.asarray(box) * scale],
                      'label': class_names[int(label)], 'score': round(float(score), 4)})
  return records


def draw(image: np.ndarray, records: list[dict], path: str, ax=None) -> None:
  """The image with each detection's box, label and score; saved to `path` unless drawn into `ax`."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  own = ax is None
  if own:
    fig, ax = plt.subplots(figsize=(6, 6 * image.shape[0] / image.shape[1]))
  ax.imshow(np.clip(image, 0, 1), cmap='gray' if image.ndim == 2 else None)
  for r in records:
    ymin, xmin, ymax, xmax = r['box']
    ax.add_patch(plt.Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False, color='lime', linewidth=1.5))
    ax.text(xmin, ymin, f"{r['label']} {r['score']:.2f}", color='black', fontsize=7,
            bbox={'facecolor': 'lime', 'alpha': 0.8, 'pad': 1, 'linewidth': 0})
  ax.axis('off')
  if own:
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def model_input(image: np.ndarray, source) -> np.ndarray:
  """An RGB image in [0, 1] resized to the detector's input and normalised like its training data."""
  h, w, c = source.image_shape
  x = np.asarray(jax.image.resize(image.astype(np.float32), (h, w, image.shape[-1]), 'bilinear'))
  if c == 1:
    x = x.mean(-1, keepdims=True)
  return ((x - source.mean) / source.std)[None].astype(np.float32)


def predict_image(config, workdir: str) -> None:
  """Writes WORKDIR/detections.json and WORKDIR/detections.png for config.predict_image."""
  image = read_rgb(config.predict_image)
  source, predict = load_detector(config, workdir)
  detections = jax.device_get(predict(model_input(image, source)))
  records = to_records(detections, 0, image.shape[0], image.shape[1], source.class_names,
                       config.get('predict_score_threshold', 0.3))
  with open(os.path.join(workdir, 'detections.json'), 'w') as f:
    json.dump(records, f, indent=2)
  draw(image, records, os.path.join(workdir, 'detections.png'))
  for r in records:
    print(f"{r['label']} {r['score']:.3f} at {r['box']}")
  return None


def draw_test_predictions(config, workdir: str) -> str:
  """A grid of the first test images with their detections: WORKDIR/plots/predictions.png."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  source, predict = load_detector(config, workdir)
  count = config.num_prediction_pictures
  batch = next(source.eval_batches())
  images = batch['image'][:count]
  detections = jax.device_get(predict(images))
  shown = np.clip(images * source.std + source.mean, 0, 1)
  cols = min(count, 4)
  rows = -(-count // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
  for i, ax in enumerate(axes.flat):
    if i < count:
      h, w = shown.shape[1:3]
      image = shown[i, ..., 0] if shown.shape[-1] == 1 else shown[i]
      draw(image, to_records(detections, i, h, w, source.class_names, config.get('predict_score_threshold', 0.3)),
           '', ax)
    else:
      ax.axis('off')
  fig.tight_layout()
  path = os.path.join(workdir, 'plots', 'predictions.png')
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path
