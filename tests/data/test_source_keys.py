"""SOURCE_KEYS (vision_jax/data/__init__.py) says which dataset keys each source reads, and the launch
refuses an override of any other (it would have no effect; the same for the optimizer and schedule
blocks, whose reads tests/train/test_optimizers.py records). Here every kind of source is built from a
shipped config, with a train and an eval batch drawn, while its config's reads are recorded: a source
that reads an undeclared key would make the launch refuse a key that matters; a declared key that no
source of its kind reads would let an override without effect through."""

import collections

import pytest
import tensorflow_datasets as tfds

from tests.helpers import load_config, parse_launch_config, recorded_reads
from vision_jax.config_rules import override_problem
from vision_jax.data import SOURCE_KEYS, build_source, source_kind
from vision_jax.data.write_layouts import write_layout
from vision_jax.errors import UserError
from vision_jax.tasks import detection

COCO_JSON = {'name': 'coco_json', 'train_annotations': '{root}/coco_json/train.json',
             'eval_annotations': '{root}/coco_json/test.json'}
VOC_FOLDER = {'name': 'voc_folder', 'root': '{root}/voc_folder'}
# (configs/<name>.py, its arg, dataset overrides): together they reach every key of every kind.
CASES = (
    ('digits_cnn', 'smoke', {'max_shift': 1, 'examples_per_class': 2}),
    ('few_shot_transfer', 'lfw_faces,finetune,smoke', {}),
    ('digits_cyclegan', 'smoke', {}),
    ('digits_pix2pix', 'smoke', {}),
    ('neural_style', 'smoke', {}),
    ('fast_style', 'photos,smoke', {}),
    ('cifar10_resnet', '20,smoke', {}),
    ('imagenet_resnet50', 'smoke', {}),
    ('cyclegan', 'horse2zebra,smoke', {}),
    ('digit_scenes_ssd', 'smoke', {}),
    ('digit_scenes_yolo', 'smoke', {}),
    ('coco_yolo', 'n,smoke', {}),
    ('voc_ssd', 'ssd300,smoke', {}),
    ('coco_faster_rcnn', 'smoke', {}),
    ('digits_cnn', 'smoke', {'name': 'image_folder', 'train_dir': '{root}/image_folder/train', 'cache': True,
                             'eval_dir': '{root}/image_folder/test', 'image_size': 8, 'augment': 'crop_flip',
                             'eval_preprocess': 'center_crop'}),
    ('pix2pix', 'smoke', {'train_dir': '{root}/image_pairs/train', 'eval_dir': '{root}/image_pairs/test'}),
    *(('digit_scenes_ssd', 'smoke', {**own, 'image_size': 64, 'resize': 'min_max', 'min_size': 48, 'max_size': 64})
      for own in (COCO_JSON, VOC_FOLDER)),
    *(('digit_scenes_yolo', 'smoke', {**own, 'image_size': 64, 'augment': 'yolo', 'mosaic': 0.5, 'cache': True})
      for own in (COCO_JSON, VOC_FOLDER)),
)


@pytest.fixture(scope='module')
def layouts(tmp_path_factory):
  root = tmp_path_factory.mktemp('layouts')
  for layout in ('image_folder', 'image_pairs', 'coco_json', 'voc_folder'):
    write_layout(layout, str(root / layout), 6, 4)
  return root


def source_reads(config) -> set[str]:
  """The dataset keys read while config's source is built and gives a train and an eval batch."""
  with recorded_reads(config) as reads, tfds.testing.mock_data(num_examples=4):
    if config.task == 'detection':
      source = detection.build_source(config)
    else:
      source = build_source(config.dataset, config.batch_size, config.eval_batch_size, config.seed)
    next(iter(source.train_batches()))
    next(iter(source.eval_batches()))
  return {key.split('.')[1] for key in reads if key.startswith('dataset.')}


def test_sources_read_what_source_keys_declares(layouts):
  read_by_kind = collections.defaultdict(set)
  for name, arg, overrides in CASES:
    config = load_config(name, arg)
    config.dataset.update({k: v.format(root=layouts) if isinstance(v, str) else v for k, v in overrides.items()})
    config.batch_size = config.eval_batch_size = 1
    kind = source_kind(config.dataset, config.task == 'detection')
    reads = source_reads(config)
    assert reads - {'name', *SOURCE_KEYS[kind]} == set(), (name, kind)
    read_by_kind[kind] |= reads
  assert {kind: set(keys) - read_by_kind[kind] for kind, keys in SOURCE_KEYS.items()} == {
      kind: set() for kind in SOURCE_KEYS}


@pytest.mark.parametrize('overrides, key, chosen', [
    (['dataset.crop_padding=2'], 'dataset.crop_padding', "the 'digits' source"),
    (['dataset.train_dir=/data'], 'dataset.train_dir', "the 'digits' source"),
    (['dataset.name=mnist', 'dataset.max_shift=2'], 'dataset.max_shift', "the TFDS dataset 'mnist'"),
    (['optimizer.b1=0.5'], 'optimizer.b1', "the optimizer 'sgd'"),
    (['schedule.boundaries=(0.3,)'], 'schedule.boundaries', "the schedule 'cosine'")])
def test_an_override_without_effect_is_one_line(overrides, key, chosen):
  with pytest.raises(UserError, match=rf'^config.{key} has no effect on {chosen}, which reads only'):
    parse_launch_config(['launch', '--config=configs/digits_cnn.py:smoke', *(f'--config.{o}' for o in overrides)])


def test_overrides_the_chosen_source_optimizer_and_schedule_read_pass():
  config = load_config('digits_cnn')
  assert override_problem(config, ['dataset.max_shift', 'dataset.mean', 'batch_size', 'model.name',
                                   'optimizer.momentum', 'schedule.final_lr_fraction']) is None
  config.dataset.name = 'image_folder'
  assert override_problem(config, ['dataset.name', 'dataset.train_dir', 'dataset.augment']) is None
