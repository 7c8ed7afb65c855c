"""Export to a TensorFlow SavedModel and to ONNX, run in TensorFlow and onnxruntime against the JAX
predictor on real photos and digit scenes; bad export requests end in one line."""

import json

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf

from vision_jax import inference
from vision_jax.data.digit_scenes import make_scene
from vision_jax.errors import UserError
from vision_jax.inference import export as export_module
from vision_jax.inference.export import export


def run_saved_model(path: str, images: np.ndarray) -> dict:
  model = tf.saved_model.load(path)
  return {k: v.numpy() for k, v in model.signatures['serving_default'](images=tf.constant(images)).items()}


def run_onnx(path: str, images: np.ndarray) -> dict:
  session = onnxruntime.InferenceSession(f'{path}/model.onnx', providers=['CPUExecutionProvider'])
  names = [output.name for output in session.get_outputs()]
  return dict(zip(names, session.run(names, {'images': images})))


RUNTIMES = {'saved_model': run_saved_model, 'onnx': run_onnx}


@pytest.mark.parametrize('fmt', sorted(RUNTIMES))
def test_classifier_export_gives_the_predictors_logits(classifier_workdir, fmt):
  out = export(str(classifier_workdir), fmt, batch_size=2)
  predictor = inference.load(str(classifier_workdir))
  images = predictor.prepare([predictor.read('skimage:coffee'), predictor.read('skimage:chelsea')])
  got, want = RUNTIMES[fmt](out, images), predictor.outputs(images)
  np.testing.assert_allclose(got['logits'], want['logits'], rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(got['probabilities'], want['probabilities'], rtol=1e-4, atol=1e-6)
  spec = json.load(open(f'{out}/input.json'))
  assert spec['input']['shape'] == [2, 28, 28, 1] and spec['class_names'] == [str(i) for i in range(10)]
  assert 'float32 (2, 28, 28, 1)' in open(f'{out}/README.md').read()


@pytest.mark.parametrize('fmt', sorted(RUNTIMES))
def test_detector_export_gives_the_predictors_detections_nms_included(detector_workdir, fmt):
  out = export(str(detector_workdir), fmt, batch_size=2)
  predictor = inference.load(str(detector_workdir))
  scene = (make_scene(3, 'test')[0] * 255).round().astype(np.uint8)
  images = predictor.prepare([predictor.read(scene), predictor.read('skimage:coffee')])
  got, want = RUNTIMES[fmt](out, images), predictor.outputs(images)
  assert want['valid'].sum() > 0
  np.testing.assert_array_equal(got['valid'], want['valid'])
  np.testing.assert_array_equal(got['labels'][want['valid']], want['labels'][want['valid']])   # same labels, same order
  np.testing.assert_allclose(got['boxes'][want['valid']], want['boxes'][want['valid']], atol=0.01)
  np.testing.assert_allclose(got['scores'], want['scores'], atol=1e-5)


def test_bad_export_requests_are_one_line(classifier_workdir, tmp_path, monkeypatch):
  with pytest.raises(UserError, match="unknown export format 'tflite'; choose one of: saved_model, onnx"):
    export(str(classifier_workdir), 'tflite')
  with pytest.raises(UserError, match='is not a training workdir'):
    export(str(tmp_path), 'saved_model')
  with pytest.raises(UserError, match='ONNX export needs jax2onnx'):
    monkeypatch.setattr(export_module, 'to_onnx', None)
    export(str(classifier_workdir), 'onnx')


def test_launch_exports_with_config_export_and_refuses_an_unknown_format(classifier_workdir, capsys):
  from tests.helpers import launch, load_config
  from vision_jax.tasks import run
  config = load_config('digits_cnn')
  config.export = 'saved_model'
  run(config, str(classifier_workdir))
  assert capsys.readouterr().out.strip().endswith('export/saved_model')
  assert tf.saved_model.load(str(classifier_workdir / 'export' / 'saved_model')) is not None
  bad = launch(['--config=configs/digits_cnn.py:smoke', f'--workdir={classifier_workdir}', '--config.export=tflite'])
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1] == "error: unknown export format 'tflite'; choose one of: saved_model, onnx"
