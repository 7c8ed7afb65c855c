"""Training on your own files end to end: a classifier from class folders (then prediction by class
name), detectors from a COCO JSON and a VOC folder, the COCO results export that pycocotools scores
exactly as logged, skip_bad, and data folders left untouched."""

import contextlib
import io
import json
import os

import numpy as np

from tests.helpers import load_config, metrics
from vision_jax.data.write_layouts import write_layout
from vision_jax.tasks import run


def snapshot(root) -> dict:
  """Every file under root with its size and modification time."""
  return {os.path.join(d, f): (os.stat(os.path.join(d, f)).st_size, os.stat(os.path.join(d, f)).st_mtime_ns)
          for d, _, files in os.walk(root) for f in files}


def test_classifier_from_class_folders_then_predicts_by_name(tmp_path, capsys):
  data = tmp_path / 'data'
  write_layout('image_folder', str(data), 0, 0)
  os.rename(data / 'train' / '3', data / 'train' / 'three')   # any folder names: labels are their sorted order
  os.rename(data / 'test' / '3', data / 'test' / 'three')
  before = snapshot(data)
  config = load_config('digits_cnn')
  config.dataset.update({'name': 'image_folder', 'train_dir': str(data / 'train'), 'eval_dir': str(data / 'test')})
  workdir = tmp_path / 'run'
  final = run(config, str(workdir))
  assert final['step'] == 4 and final['num_examples'] == 360
  names = json.load(open(workdir / 'source.json'))['class_names']
  assert names == ['0', '1', '2', '4', '5', '6', '7', '8', '9', 'three']
  image = sorted((data / 'test' / 'three').iterdir())[0]
  config.predict_image = str(image)
  capsys.readouterr()
  run(config, str(workdir))
  printed = capsys.readouterr().out.splitlines()
  rows = [json.loads(line) for line in open(workdir / 'predictions' / image.stem / 'predictions.jsonl')]
  top5 = rows[0]['top_k']
  assert len(rows) == 1 and rows[0]['image'] == str(image)
  assert len(top5) == 5 and printed[0].startswith(f'1. {top5[0]["name"]} (class {top5[0]["index"]})')
  assert {entry['name'] for entry in top5} <= set(names)
  assert snapshot(data) == before   # nothing written into the data folders


def test_detector_from_coco_json_exports_results_pycocotools_scores_as_logged(tmp_path):
  data = tmp_path / 'data'
  write_layout('coco_json', str(data), 16, 16)
  before = snapshot(data)
  config = load_config('digit_scenes_ssd')
  config.dataset.update({'name': 'coco_json', 'train_annotations': str(data / 'train.json'),
                         'eval_annotations': str(data / 'test.json'), 'image_size': 128, 'channels': 3})
  config.nms.score_threshold = 0.0   # many low-scoring detections: a hard test of the export
  workdir = tmp_path / 'run'
  final = run(config, str(workdir))
  assert final['num_examples'] == 16 and final['coco_AP'] >= 0
  logged = metrics(str(workdir), 'eval')[-1]
  exported = workdir / 'eval' / f'detections_coco_{logged["step"]}.json'
  results = json.load(open(exported))
  assert results and set(results[0]) == {'image_id', 'category_id', 'bbox', 'score'}
  assert {r['category_id'] for r in results} <= set(range(1, 11))
  from pycocotools.coco import COCO
  from pycocotools.cocoeval import COCOeval
  with contextlib.redirect_stdout(io.StringIO()):
    truth = COCO(str(data / 'test.json'))
    evaluator = COCOeval(truth, truth.loadRes(str(exported)), 'bbox')
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
  assert float(evaluator.stats[0]) == logged['coco_AP'] and float(evaluator.stats[1]) == logged['coco_AP50']
  assert snapshot(data) == before


def test_detector_from_a_voc_folder_and_skip_bad(tmp_path):
  data = tmp_path / 'data'
  write_layout('voc_folder', str(data), 8, 8)
  (data / 'JPEGImages' / 'test_000003.jpg').write_bytes(b'broken')
  config = load_config('digit_scenes_ssd')
  config.dataset.update({'name': 'voc_folder', 'root': str(data), 'image_size': 128, 'channels': 3,
                         'skip_bad': True})
  config.evals.bright.dataset = {}
  final = run(config, str(tmp_path / 'run'))
  assert final['step'] == 4 and final['num_examples'] == 7   # the broken test image left out
  assert np.isfinite(metrics(str(tmp_path / 'run'), 'train')[-1]['loss'])


def test_voc_recipe_reads_a_devkit_folder_without_tfds(tmp_path):
  """configs/voc_ssd.py with only dataset.name and dataset.root changed reads VOC's own lists."""
  from vision_jax.tasks.detection import build_source
  data = tmp_path / 'VOC2007'
  write_layout('voc_folder', str(data), 4, 4)
  config = load_config('voc_ssd', 'ssd300,smoke')
  config.dataset.update({'name': 'voc_folder', 'root': str(data)})
  source = build_source(config)
  assert source.num_eval_examples == 4 and source.image_shape == (300, 300, 3)
  batch = next(source.train_batches())
  assert batch['image'].shape == (2, 300, 300, 3) and batch['box_valid'].any()


def test_transfer_recipe_on_a_folder(tmp_path):
  data = tmp_path / 'data'
  write_layout('image_folder', str(data), 0, 0)
  config = load_config('few_shot_transfer', 'digits,probe,smoke')
  config.dataset.update({'name': 'image_folder', 'train_dir': str(data / 'train'), 'eval_dir': str(data / 'test')})
  final = run(config, str(tmp_path / 'run'))
  assert final['num_examples'] == 360 and final['accuracy'] > 0.1
