"""The detection task end to end on the bundled digit scenes, prediction on an image file, and
pretrained backbones for SSD."""

import json

import jax
import numpy as np

from tests.helpers import load_config, metrics
from vision_jax.data.digit_scenes import make_scene
from vision_jax import inference
from vision_jax.data.source import StoredSource, card_of
from vision_jax.inference.inputs import to_channels
from configs import common
from vision_jax.detection import default_boxes as layouts
from vision_jax.detection.families import build_detector
from vision_jax.tasks import detection
from vision_jax.tasks import run
from vision_jax.train.state import TrainState


def test_digit_scenes_smoke_trains_evaluates_draws_and_predicts(tmp_path):
  config = load_config('digit_scenes_ssd')
  final = run(config, str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 16
  train = metrics(str(tmp_path), 'train')
  assert {'loss', 'loc_loss', 'cls_loss', 'num_positive'} <= set(train[0]) and train[0]['num_positive'] > 0
  assert train[-1]['loss'] < train[0]['loss']  # the MultiBox loss falls over the smoke run's steps
  assert 'bright_mAP50' in final  # the same detector on brighter-background test scenes
  assert {'coco_AP', 'coco_APs'} <= set(final)  # pycocotools on the scenes (digit category ids 1-10)
  assert (tmp_path / 'plots' / 'predictions.png').stat().st_size > 1000
  assert (tmp_path / 'plots' / 'curves.png').exists()

  from PIL import Image
  scene = make_scene(0, 'test')[0]
  path = tmp_path / 'scene.png'
  Image.fromarray((np.pad(scene, ((0, 0), (0, 64))) * 255).astype(np.uint8)).save(path)  # 128 x 192
  config.predict_image = str(path)
  config.predict_score_threshold = 0.0
  config.predict_annotate = True
  run(config, str(tmp_path))
  out = tmp_path / 'predictions' / 'scene'
  records = json.load(open(out / 'detections.json'))   # COCO results: category ids 1-10 for the digits
  assert records and set(records[0]) == {'image_id', 'category_id', 'bbox', 'score'}
  for record in records:
    x, y, w, h = record['bbox']
    assert 0 <= x <= x + w <= 192 and 0 <= y <= y + h <= 128 and 1 <= record['category_id'] <= 10
  assert json.load(open(out / 'images.json')) == [{'id': 0, 'file_name': str(path), 'height': 128, 'width': 192}]
  assert (out / 'annotated' / 'scene.png').stat().st_size > 1000


def test_ssdlite_backbone_starts_from_the_imagenet_lite0_weights():
  config = load_config('digit_scenes_ssd')
  config.model.name = 'ssdlite_efficientnet_lite0'
  config.dataset.channels = 3
  config.default_boxes = common.default_box_config(layouts.SSDLITE320)
  model = build_detector(config, 10, (128, 128, 3)).model
  variables = jax.jit(model.init)(jax.random.PRNGKey(0), np.zeros((1, 128, 128, 3), np.float32))  # eager: 60 s more
  import optax
  state = TrainState.create(apply_fn=model.apply, params=variables['params'], tx=optax.sgd(0.1),
                            batch_stats=variables['batch_stats'])
  loaded = detection.initialize_backbone(state, 'efficientnet_lite0_imagenet', 'efficientnet_lite0',
                                         (128, 128, 3))
  before = np.asarray(state.params['backbone']['stem_conv']['kernel'])
  after = np.asarray(loaded.params['backbone']['stem_conv']['kernel'])
  assert not np.allclose(before, after) and abs(float(after.std()) - 0.0) > 0
  np.testing.assert_array_equal(loaded.params['loc0']['pointwise']['kernel'],
                                state.params['loc0']['pointwise']['kernel'])  # heads stay fresh


def test_eight_devices_give_the_losses_of_one(tmp_path, capfd):
  from tests.helpers import launch, start_in_process
  runs = {}
  for devices in (1, 8):  # one device in this process (its programs are the other smoke tests'), eight in a launch
    workdir, args = tmp_path / f'd{devices}', ['--config.evals.pictures.num_images=0']
    result = (start_in_process(capfd, workdir, *args, config='digit_scenes_ssd.py:smoke') if devices == 1 else
              launch(['--config=configs/digit_scenes_ssd.py:smoke', f'--workdir={workdir}', *args], num_devices=8))
    assert result.returncode == 0, result.stderr[-2000:]
    runs[devices] = metrics(str(workdir), 'train')
  for one, eight in zip(runs[1], runs[8]):
    np.testing.assert_allclose([one['loss'], one['loc_loss'], one['cls_loss']],
                               [eight['loss'], eight['loc_loss'], eight['cls_loss']], rtol=2e-4)
  assert runs[1][-1]['num_positive'] == runs[8][-1]['num_positive']


def test_predict_input_matches_the_eval_pipeline_for_a_scene_file():
  """The predictor reads 0-255 pixels: its model input must equal the test batch's own (it once
  normalised 0-255 values as if they were 0-1); the digit scenes are drawn in [0, 1], so equal up to
  the 8-bit rounding of the file."""
  config = load_config('digit_scenes_ssd')
  source = detection.build_source(config)
  scene = make_scene(0, 'test')[0]
  pixels = np.repeat((scene * 255).round().astype(np.uint8)[..., None], 3, -1)
  predictor = inference.Detector(config, StoredSource(card_of(source)), {})
  expected = next(source.eval_batches())['image'][0]
  np.testing.assert_allclose(predictor.prepare([to_channels(pixels, 1)])[0], expected, atol=0.5 / 255 / 0.25 + 1e-6)

