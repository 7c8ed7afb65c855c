"""The paper-recipe and transfer configs: their smoke variants run end to end (TFDS ones under
tfds.testing.mock_data), and their full settings say what the docstrings promise."""

import json
import sys

import pytest
import tensorflow_datasets as tfds

from tests.helpers import load_config, metrics
from vision_jax.tasks import run


def run_under_mock_data(spec: str, workdir, num_examples: int) -> dict:
  """configs/FILE.py:ARG run in this process (as launch.py runs it) on tfds.testing.mock_data."""
  name, _, arg = spec.partition(':')
  config = load_config(name.removesuffix('.py'), arg or None)
  with tfds.testing.mock_data(num_examples=num_examples):
    return run(config, str(workdir))


@pytest.mark.parametrize('spec, dataset, model', [
    ('cifar10_resnet.py:20,smoke', 'cifar10', 'cifar_resnet20'),
    ('cifar10_vgg16_bn.py:smoke', 'cifar10', 'vgg16_bn'),
    ('imagenet_resnet50.py:smoke', 'imagenet2012', 'resnet50'),
])
def test_recipe_smoke_runs_under_mock_data(tmp_path, spec, dataset, model):
  run_under_mock_data(spec, tmp_path, 48)
  config = json.load(open(tmp_path / 'config.json'))
  assert config['dataset']['name'] == dataset and config['model']['name'] == model
  evals = metrics(str(tmp_path), 'eval')
  assert evals[-1]['step'] == 4 and evals[-1]['num_examples'] == 48


def test_recipes_follow_the_papers():
  resnet110 = load_config('cifar10_resnet', '110')
  assert (resnet110.model.name, resnet110.model.shortcut) == ('cifar_resnet110', 'A')
  assert (resnet110.batch_size, resnet110.num_train_steps, list(resnet110.schedule.boundaries)) == (
      128, 64_000, [32_000, 48_000])
  assert (resnet110.schedule.base_lr, resnet110.optimizer.weight_decay) == (0.1, 1e-4)
  imagenet = load_config('imagenet_resnet50', None)
  assert imagenet.schedule.base_lr == pytest.approx(0.4) and imagenet.label_smoothing == 0.1
  assert imagenet.num_train_steps == 90 * (1_281_167 // 1024)
  assert (imagenet.dataset.augment, imagenet.dataset.eval_preprocess) == ('inception_crop_flip', 'center_crop')


@pytest.mark.parametrize('spec', ['lfw_faces,finetune,smoke', 'digits,probe,smoke'])
def test_few_shot_transfer_smoke_starts_from_imagenet_weights(tmp_path, spec):
  config = load_config('few_shot_transfer', spec)
  config.dataset.examples_per_class = 5
  final = run(config, str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == (60 if spec.startswith('lfw') else 360)


@pytest.mark.parametrize('spec, extra', [('voc_ssd.py:ssd300,smoke', []), ('coco_ssd.py:ssdlite,smoke', ['coco_AP']),
                                         ('voc_faster_rcnn.py:vgg16,smoke', ['rpn_recall']),
                                         ('coco_faster_rcnn.py:smoke', ['coco_AP', 'rpn_recall']),
                                         ('coco_yolo.py:n,smoke', ['coco_AP']), ('voc_yolov1.py:fast,smoke', []),
                                         ('coco_retinanet.py:smoke', ['coco_AP'])])
def test_detection_smoke_runs_under_mock_detection_data(tmp_path, spec, extra):
  final = run_under_mock_data(spec, tmp_path, 6)
  assert final['step'] == 2 and final['num_examples'] == 6
  assert {'mAP50', 'mAP50_voc07', *extra} <= set(final)
  assert (tmp_path / 'plots' / 'predictions.png').exists()


@pytest.mark.parametrize('spec, image, trained_by', [
    ('voc_retinanet.py:smoke', 'float32[2, 128, 128, 3]', 'coco_retinanet.py:smoke above'),
    ('fast_style.py:coco,smoke', 'float32[2, 64, 64, 3]', 'fast_style.py:photos,smoke (tests/tasks/test_neural_style.py)')])
def test_recipes_whose_network_another_smoke_trains_set_up(tmp_path, spec, image, trained_by):
  """A recipe whose network, step and evaluators another smoke run trains end to end (compiling them
  again would cost a minute) is dry-run: its data source (a first batch), model and traced train step."""
  name, _, arg = spec.partition(':')
  config = load_config(name.removesuffix('.py'), arg)
  config.update({'style': 'skimage:coffee'} if 'style' in config else {})
  with tfds.testing.mock_data(num_examples=4):
    report = run(config, str(tmp_path / 'run'), dry_run=True)
  assert report['parameters'] > 0 and 'loss' in report['train_metrics'] and not (tmp_path / 'run').exists()
  assert report['batch']['image'] == image


def test_faster_rcnn_recipes_follow_torchvision_and_the_paper():
  coco = load_config('coco_faster_rcnn', None)
  assert (coco.detector, coco.model.backbone, coco.model.neck, coco.batch_size, coco.num_train_steps) == (
      'faster_rcnn', 'resnet50', 'fpn', 16, 90_000)
  assert (coco.schedule.base_lr, list(coco.schedule.boundaries), coco.schedule.warmup_steps) == (0.02, [60_000, 80_000], 1000)
  assert (coco.optimizer.name, coco.optimizer.momentum, coco.optimizer.weight_decay) == ('sgd', 0.9, 1e-4)
  assert (coco.dataset.resize, coco.dataset.min_size, coco.dataset.max_size, coco.dataset.image_size) == (
      'min_max', 800, 1333, 1344)
  assert (coco.model.rpn_post_nms_top_n_test, coco.model.box_batch_size_per_image, coco.nms.max_detections) == (
      1000, 512, 100)
  assert coco.freeze_batch_stats == '^backbone/'
  vgg = load_config('voc_faster_rcnn', 'vgg16,0712')
  assert (vgg.model.backbone, vgg.model.neck, vgg.model.anchor_sizes, vgg.dataset.min_size, vgg.dataset.max_size) == (
      'vgg16_c4', 'none', [[128, 256, 512]], 600, 1000)
  assert [tuple(s) for s in vgg.dataset.train_sources] == [('voc/2007', 'train+validation'), ('voc/2012', 'train+validation')]
  with pytest.raises(ValueError, match='arg must be one of'):
    load_config('voc_faster_rcnn', 'vgg19')


def test_retinanet_recipes_follow_torchvision():
  coco = load_config('coco_retinanet', None)
  assert (coco.detector, coco.model.backbone, list(coco.model.levels), coco.batch_size) == (
      'retinanet', 'resnet50', ['C3', 'C4', 'C5'], 16)
  assert [list(s) for s in coco.model.anchor_sizes] == [[32, 40, 50], [64, 80, 101], [128, 161, 203],
                                                       [256, 322, 406], [512, 645, 812]]
  assert (coco.num_train_steps, list(coco.schedule.boundaries), coco.schedule.base_lr) == (
      190_554, [117_264, 161_238], 0.01)
  assert (coco.matching.positive_iou, coco.matching.negative_iou, coco.losses.focal_alpha, coco.losses.focal_gamma) == (
      0.5, 0.4, 0.25, 2.0)
  assert (coco.nms.score_threshold, coco.nms.pre_nms_top_k, coco.nms.max_detections) == (0.05, 1000, 300)
  assert coco.freeze_batch_stats == '^backbone/'
  assert load_config('voc_retinanet', None).dataset.eval_split == 'test'


def test_yolo_recipes_follow_ultralytics_and_the_paper():
  v8 = load_config('coco_yolo', 's')
  assert (v8.detector, v8.model.size, v8.dataset.image_size, v8.batch_size) == ('yolo', 's', 640, 64)
  assert (v8.optimizer.name, v8.optimizer.momentum, v8.optimizer.nesterov, v8.optimizer.weight_decay) == (
      'sgd', 0.937, True, 5e-4)
  assert (v8.schedule.name, v8.schedule.base_lr, v8.schedule.final_lr_fraction) == ('linear', 0.01, 0.01)
  steps_per_epoch = 118_287 // 64
  assert v8.schedule.warmup_steps == 3 * steps_per_epoch
  assert v8.dataset.close_mosaic_step == v8.num_train_steps - 10 * steps_per_epoch
  assert (v8.dataset.mosaic, v8.dataset.scale, v8.dataset.translate, tuple(v8.dataset.hsv)) == (1.0, 0.5, 0.1, (0.015, 0.7, 0.4))
  assert (v8.losses.box, v8.losses.cls, v8.losses.dfl, v8.nms.score_threshold, v8.nms.iou_threshold) == (7.5, 0.5, 1.5, 0.001, 0.7)
  v1 = load_config('voc_yolov1', 'yolo')
  assert (v1.model.grid_size, v1.model.boxes_per_cell, v1.losses.coord, v1.losses.noobj, v1.dataset.image_size) == (7, 2, 5.0, 0.5, 448)
  assert [tuple(s) for s in v1.dataset.train_sources] == [('voc/2007', 'train+validation'), ('voc/2012', 'train+validation')]
  assert '63.4' in sys.modules['configs.voc_yolov1'].__doc__
  with pytest.raises(ValueError, match='arg must be one of'):
    load_config('coco_yolo', 'x')
