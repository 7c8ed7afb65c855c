"""vision_jax.inference: the predictor's preprocessing is the eval pipeline's (identical arrays, TFDS
and own-file sources), load() rebuilds a trained workdir, folder prediction skips what it cannot read."""

import json
import os

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from configs import imagenet_resnet50, voc_ssd
from tests.helpers import load_config
from vision_jax import inference, models
from vision_jax.data import build_detection_source, build_source
from vision_jax.data.file_sources import read_image
from vision_jax.data.source import StoredSource, card_of
from vision_jax.data.tfds_source import dataset_builder, load_split
from vision_jax.data.write_layouts import write_layout
from vision_jax.errors import UserError
from vision_jax.inference.folder import predict_path


def raw_eval_images(dataset_config) -> list[np.ndarray]:
  """The eval split's decoded images, in order, before any preprocessing."""
  builder = dataset_builder(dataset_config)
  return [example['image'] for example in tfds.as_numpy(load_split(builder, dataset_config.eval_split, False, 0))]


def test_classifier_prepares_tfds_images_as_the_eval_pipeline_does():
  config = imagenet_resnet50.get_config('smoke')
  config.dataset.image_size = 32    # center_crop eval: shorter side to 37, the central 32
  with tfds.testing.mock_data(num_examples=3):
    source = build_source(config.dataset, 4, 4, seed=0)
    expected = next(source.eval_batches())['image'][:3]
    raw = raw_eval_images(config.dataset)
  model = models.build_model(config.model, source.num_classes)
  variables = model.init(jax.random.PRNGKey(0), expected[:1])
  predictor = inference.Classifier(config, StoredSource(card_of(source)), variables)
  np.testing.assert_array_equal(predictor.prepare(raw), expected)


def test_detector_prepares_tfds_images_as_the_eval_pipeline_does():
  config = voc_ssd.get_config('ssd300,smoke')
  config.dataset.update(image_size=64, resize='letterbox')
  with tfds.testing.mock_data(num_examples=3):
    source = build_detection_source(config.dataset, 4, 4, seed=0)
    expected = next(source.eval_batches())['image'][:3]
    raw = raw_eval_images(config.dataset)
  predictor = inference.Detector(config, StoredSource(card_of(source)), {})
  np.testing.assert_array_equal(predictor.prepare(raw), expected)


def test_file_sources_and_predictor_read_and_prepare_the_same_arrays(tmp_path):
  write_layout('coco_json', str(tmp_path / 'data'), 4, 4)
  config = load_config('digit_scenes_ssd')
  config.dataset.update({'name': 'coco_json', 'train_annotations': str(tmp_path / 'data' / 'train.json'),
                         'eval_annotations': str(tmp_path / 'data' / 'test.json'), 'image_size': 96})
  source = build_detection_source(config.dataset, 4, 4, seed=0)
  expected = next(source.eval_batches())['image']
  files = [image['file_name'] for image in json.load(open(tmp_path / 'data' / 'test.json'))['images']]
  predictor = inference.Detector(config, StoredSource(card_of(source)), {})
  images = [inference.inputs.read(str(tmp_path / 'data' / name), 1) for name in files]
  for name, image in zip(files, images):
    np.testing.assert_array_equal(image, np.asarray(read_image(str(tmp_path / 'data' / name), 1)))
  np.testing.assert_array_equal(predictor.prepare(images), expected[:len(files)])


def test_load_rebuilds_a_trained_classifier_that_batches_any_inputs(classifier_workdir, tmp_path):
  predictor = inference.load(str(classifier_workdir), batch_size=4)
  assert isinstance(predictor, inference.Classifier) and predictor.class_names == [str(i) for i in range(10)]
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (int(rng.integers(5, 40)), int(rng.integers(5, 40)), 3), np.uint8) for _ in range(7)]
  Image.fromarray(images[0]).save(tmp_path / 'a.png')
  together = predictor.predict(images)            # two batches of 4, the second padded
  alone = [predictor.predict(image)[0] for image in images]
  from_file = predictor.predict([str(tmp_path / 'a.png')])[0]
  assert len(together) == 7 and [r['top_k'] for r in together] == [r['top_k'] for r in alone]
  np.testing.assert_allclose(from_file['probabilities'], together[0]['probabilities'], rtol=1e-6)
  assert abs(float(together[0]['probabilities'].sum()) - 1) < 1e-5 and len(together[0]['top_k']) == 5


def test_folder_prediction_names_and_skips_an_unreadable_file(classifier_workdir, tmp_path, caplog):
  folder = tmp_path / 'images'
  folder.mkdir()
  for i in range(3):
    Image.fromarray(np.full((16, 16), 60 * i, np.uint8)).save(folder / f'{i}.png')
  (folder / 'broken.jpg').write_bytes(b'not a jpeg')
  (folder / 'notes.txt').write_text('not an image, not listed')
  with caplog.at_level('WARNING'):
    out, results = predict_path(str(classifier_workdir), str(folder))
  assert out == os.path.join(str(classifier_workdir), 'predictions', 'images') and len(results) == 3
  assert any('broken.jpg cannot be read as an image' in r.getMessage() for r in caplog.records)
  rows = [json.loads(line) for line in open(os.path.join(out, 'predictions.jsonl'))]
  assert [os.path.basename(r['image']) for r in rows] == ['0.png', '1.png', '2.png']
  lines = open(os.path.join(out, 'predictions.csv')).read().splitlines()
  assert lines[0].startswith('image,name1,prob1') and len(lines) == 4


def test_bad_prediction_inputs_end_in_one_line(classifier_workdir, tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(UserError, match='is not a training workdir'):
    inference.load(str(tmp_path / 'empty'))
  (tmp_path / 'untrained').mkdir()
  (tmp_path / 'untrained' / 'config.json').write_text(open(classifier_workdir / 'config.json').read())
  (tmp_path / 'untrained' / 'source.json').write_text(open(classifier_workdir / 'source.json').read())
  with pytest.raises(UserError, match='no checkpoint in'):
    inference.load(str(tmp_path / 'untrained'))
  with pytest.raises(UserError, match='no checkpoint of step 3'):
    inference.load(str(classifier_workdir), step=3)
  predictor = inference.load(str(classifier_workdir))
  with pytest.raises(UserError, match='does not exist'):
    predictor.predict([str(tmp_path / 'nope.png')])
  with pytest.raises(UserError, match='holds no image files'):
    predict_path(str(classifier_workdir), str(tmp_path / 'empty'))
  with pytest.raises(UserError, match=r'must be \(H, W\)'):
    predictor.predict([np.zeros((2, 3, 4, 5))])


def test_the_tasks_import_without_tensorflow():
  """Prediction and export (TensorFlow) load only when asked: the GPU machine has no TF, and TF
  beside PyTorch crashed the benchmarks' PyTorch side (SIGSEGV in triton's import)."""
  import subprocess
  import sys
  code = "import sys, vision_jax.tasks; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
  done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
