"""The YOLO detectors (v8-style and v1) through the detection task: the digit-scenes smoke run trains,
evaluates, draws and predicts; an Ultralytics state_dict file initialises the whole detector
through config.init_from."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.helpers import load_config, metrics, predict_scene_and_check
from vision_jax.detection.families import build_detector
from vision_jax.tasks import detection, run
from vision_jax.train.state import TrainState


def test_digit_scenes_yolo_smoke_trains_evaluates_draws_and_predicts(tmp_path):
  config = load_config('digit_scenes_yolo')
  final = run(config, str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 16 and 'mAP50' in final
  train = metrics(str(tmp_path), 'train')
  assert {'box_loss', 'cls_loss', 'dfl_loss', 'foreground'} <= set(train[0]) and train[0]['foreground'] > 0
  assert train[-1]['loss'] < train[0]['loss']
  assert (tmp_path / 'plots' / 'predictions.png').stat().st_size > 1000

  predict_scene_and_check(config, tmp_path)


def test_digit_scenes_yolov1_smoke_trains_evaluates_and_predicts(tmp_path):
  config = load_config('digit_scenes_yolov1')
  config.evals.pictures.num_images = 0
  final = run(config, str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 16 and 'mAP50' in final
  train = metrics(str(tmp_path), 'train')
  assert {'coord_loss', 'object_loss', 'noobject_loss', 'class_loss'} <= set(train[0]) and train[0]['objects'] > 1
  assert train[-1]['loss'] < train[0]['loss']
  predict_scene_and_check(config, tmp_path)


def test_ultralytics_state_dict_initialises_the_whole_detector(tmp_path):
  torch = pytest.importorskip('torch')
  pytest.importorskip('ultralytics')
  from ultralytics.nn.tasks import DetectionModel
  torch.manual_seed(0)
  theirs = DetectionModel('yolov8n.yaml', nc=10, verbose=False)
  path = str(tmp_path / 'yolov8n_state_dict.pt')
  torch.save(theirs.state_dict(), path)
  config = load_config('digit_scenes_yolo')
  config.model.update(width=0.0, p2=False, reg_max=16)  # v8n's own layout, as the file
  detector = build_detector(config, 10, (64, 64, 3))
  variables = jax.jit(detector.model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)))
  state = TrainState.create(apply_fn=detector.model.apply, params=variables['params'], tx=optax.sgd(0.1),
                            batch_stats=variables['batch_stats'])
  loaded = detection.initialize_detector(state, path, detector, (64, 64, 3))
  np.testing.assert_allclose(loaded.params['model_0']['conv']['kernel'],
                             theirs.model[0].conv.weight.detach().numpy().transpose(2, 3, 1, 0))
  np.testing.assert_allclose(loaded.batch_stats['model_22']['cv3_2']['1']['bn']['var'],
                             theirs.model[22].cv3[2][1].bn.running_var.numpy())
