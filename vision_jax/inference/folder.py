"""Prediction over a folder (or one file) of images with a trained workdir, written to
OUT (default WORKDIR/predictions/<folder name>):

- classifiers: predictions.jsonl (one row per image: {"image", "top_k": [{"index", "name", "prob"}]})
  and predictions.csv (image, then name and probability of each of the top k);
- detectors: detections.json in COCO's results format ({"image_id", "category_id" (the dataset's
  ids), "bbox" [x, y, w, h] px, "score"}) with images.json ({"id", "file_name", "height", "width"},
  ids in file order), and with annotate an annotated PNG per image in annotated/.

A file that cannot be read is named in a warning and skipped; the rest go on. Progress goes to stderr.
"""

import csv
import json
import os
import sys
import time

import numpy as np
from absl import logging

from vision_jax.errors import UserError
from vision_jax.evaluation.coco import to_xywh
from vision_jax.evaluation.pictures import save_detection_grid
from vision_jax.inference.inputs import batches, image_files, read
from vision_jax.inference.predictors import Classifier, Detector, Predictor, load


def readable(paths: list[str], channels: int) -> tuple[list[str], list[np.ndarray]]:
  """The files that decode, with their images; each other file is named in a warning."""
  kept, images = [], []
  for path in paths:
    try:
      images.append(read(path, channels))
      kept.append(path)
    except UserError as e:
      logging.warning('skipped: %s', e)
  return kept, images


def progress(done: int, total: int, start: float) -> None:
  rate = done / max(time.perf_counter() - start, 1e-9)
  sys.stderr.write(f'\rpredicted {done}/{total} images ({rate:.1f} images/s)' + ('\n' if done == total else ''))
  sys.stderr.flush()


class ClassifierWriter:
  def __init__(self, out: str, k: int = 5):
    self.jsonl = open(os.path.join(out, 'predictions.jsonl'), 'w')
    self.csv_file = open(os.path.join(out, 'predictions.csv'), 'w', newline='')
    self.csv = csv.writer(self.csv_file)
    self.csv.writerow(['image'] + [f'{field}{i}' for i in range(1, k + 1) for field in ('name', 'prob')])

  def add(self, path: str, image: np.ndarray, result: dict) -> None:
    self.jsonl.write(json.dumps({'image': path, 'top_k': result['top_k']}) + '\n')
    self.csv.writerow([path] + [v for e in result['top_k'] for v in (e['name'], f"{e['prob']:.6f}")])

  def close(self) -> None:
    self.jsonl.close()
    self.csv_file.close()


class DetectorWriter:
  def __init__(self, out: str, annotate: bool):
    self.out, self.annotate = out, annotate
    self.images, self.detections = [], []

  def add(self, path: str, image: np.ndarray, result: dict) -> None:
    image_id = len(self.images)
    self.images.append({'id': image_id, 'file_name': path, 'height': int(image.shape[0]), 'width': int(image.shape[1])})
    self.detections += [{'image_id': image_id, 'category_id': int(c), 'bbox': [round(v, 3) for v in to_xywh(b)],
                         'score': round(float(s), 5)}
                        for b, c, s in zip(result['boxes'], result['category_ids'], result['scores'])]
    if self.annotate:
      records = [{'box': b, 'label': n, 'score': s} for b, n, s in zip(result['boxes'], result['names'], result['scores'])]
      name = os.path.splitext(os.path.basename(path))[0] + '.png'
      save_detection_grid([image[..., 0] if image.shape[-1] == 1 else image], [records],
                          os.path.join(self.out, 'annotated', name))

  def close(self) -> None:
    for name, value in (('detections.json', self.detections), ('images.json', self.images)):
      with open(os.path.join(self.out, name), 'w') as f:
        json.dump(value, f)


def writer_for(predictor: Predictor, out: str, annotate: bool):
  if isinstance(predictor, Classifier):
    return ClassifierWriter(out)
  if isinstance(predictor, Detector):
    return DetectorWriter(out, annotate)
  raise UserError(f'folder prediction covers classifiers and detectors; {type(predictor).__name__} has none')


def output_dir(workdir: str, path: str) -> str:
  """WORKDIR/predictions/<the folder's or file's name without suffix>."""
  name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0] or 'images'
  return os.path.join(workdir, 'predictions', name)


def predict_path(workdir: str, path: str, out: str = '', annotate: bool = False, min_score: float = 0.0,
                 predictor: Predictor | None = None) -> tuple[str, list]:
  """Predicts every image of `path` (a folder or one file) with WORKDIR's model, writing the files
  above into `out`; returns (out, each predicted file's result)."""
  predictor = predictor or load(workdir)
  paths = image_files(path)
  out = out or output_dir(workdir, path)
  os.makedirs(out, exist_ok=True)
  writer = writer_for(predictor, out, annotate)
  options = {'min_score': min_score} if isinstance(predictor, Detector) else {}
  results, done, start = [], 0, time.perf_counter()
  try:
    for a, b in batches(len(paths), 4 * predictor.batch_size):
      kept, images = readable(paths[a:b], predictor.channels)
      for p, image, result in zip(kept, images, predictor.predict_read(images, **options)):
        writer.add(p, image, result)
        results.append((p, result))
      done = b
      progress(done, len(paths), start)
  finally:
    writer.close()
  if len(results) < len(paths):
    logging.warning('%d of %d files could not be read and were skipped', len(paths) - len(results), len(paths))
  return out, results


def describe(result: dict) -> list[str]:
  """A result as printed lines: a classifier's ranked classes, a detector's boxes."""
  if 'top_k' in result:
    return [f'{rank}. {e["name"]} (class {e["index"]}): {e["prob"]:.4f}' for rank, e in enumerate(result['top_k'], 1)]
  return [f'{n} {s:.3f} at [{", ".join(f"{v:.1f}" for v in b)}]'
          for n, s, b in zip(result['names'], result['scores'], result['boxes'])]


def predict_command(config, workdir: str) -> str:
  """launch.py with --config.predict_image=PATH (a file or a folder): predicts with WORKDIR's model
  (as WORKDIR's config.json built it), writes the files above and prints a single file's results."""
  out, results = predict_path(workdir, config.predict_image, annotate=config.get('predict_annotate', False),
                              min_score=config.get('predict_score_threshold', 0.0))
  if len(results) == 1:
    print('\n'.join(describe(results[0][1])))
  print(f'wrote {out}')
  return out
