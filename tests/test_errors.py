"""Bad user input: one line naming the problem, exit status 1, and no data lost."""

import os
import re

import pytest

from tests.helpers import launch, load_config, start_in_process, subprocess_env, tree_digest
from vision_jax.errors import UserError
from vision_jax.tasks import run

SMOKE = '--config=configs/digits_cnn.py:smoke'


def assert_one_line_error(result, *fragments):
  assert result.returncode == 1, (result.stdout, result.stderr)
  assert 'Traceback' not in result.stderr, result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('error: '), result.stderr
  for fragment in fragments:
    assert fragment in last, last


@pytest.mark.parametrize('override, fragments', [
    ('--config.optimizer.nme=sgd', ["unknown config key 'optimizer.nme'", 'momentum, name']),
    ('--config.batch_size=abc', ['--config.batch_size=abc']),
])
def test_bad_override_names_the_problem(tmp_path, override, fragments):
  assert_one_line_error(launch([SMOKE, f'--workdir={tmp_path}', override]), *fragments)


@pytest.mark.parametrize('override, fragments', [
    ('--config.optimizer.name=adagrad', ["unknown optimizer.name 'adagrad'", 'sgd, adam, adamw']),
    ('--config.schedule.name=step', ["unknown schedule.name 'step'", 'constant, piecewise, cosine, linear']),
    ('--config.model.name=resnet9', ["unknown model 'resnet9'", 'lenet5']),
    ('--config.task=segmentation', ["unknown task 'segmentation'", 'classification']),
    ('--config.dataset.name=no_such_dataset', ["unknown dataset 'no_such_dataset'"]),
    ('--config.keep_checkpoints=0', ['config.keep_checkpoints = 0 must be >= 1', 'could never resume']),
])
def test_bad_config_names_the_problem(tmp_path, capfd, override, fragments):
  assert_one_line_error(start_in_process(capfd, tmp_path / 'run', override), *fragments)


@pytest.mark.parametrize('spec, fragment', [
    ('configs/digits_cnn.py:nope', "unknown config arg 'nope'; allowed: smoke, scorer"),
    ('configs/voc_ssd.py:nope', "SSD arg must be one of ('ssd300', 'ssd512', 'ssdlite')"),
])
def test_unknown_config_arg_names_the_allowed_ones(tmp_path, spec, fragment):
  # issue #15 item 3: digits_cnn ignored the arg; voc_ssd's message was cut after "Error whilst parsing".
  assert_one_line_error(launch([f'--config={spec}', f'--workdir={tmp_path}']), fragment)


def test_missing_config_file(tmp_path):
  assert_one_line_error(launch(['--config=configs/nope.py', f'--workdir={tmp_path}']),
                        'config file configs/nope.py does not exist')


def test_batch_not_divisible_by_device_count(tmp_path):
  result = launch([SMOKE, f'--workdir={tmp_path}', '--config.batch_size=16'], num_devices=3)
  assert_one_line_error(result, 'batch_size 16 is not divisible by the 3 devices')


def test_unwritable_workdir(tmp_path, capfd):
  blocker = tmp_path / 'a_file'
  blocker.write_text('not a directory')
  result = start_in_process(capfd, f'{blocker}/run')
  assert_one_line_error(result, f'workdir {blocker}/run is not writable')
  assert blocker.read_text() == 'not a directory'


def test_unprepared_tfds_dataset_says_how_to_prepare_it(tmp_path):
  env = subprocess_env(TFDS_DATA_DIR=str(tmp_path / 'tfds'))
  result = launch([SMOKE, f'--workdir={tmp_path}/run', '--config.dataset.name=mnist'], env=env)
  assert_one_line_error(result, "TFDS dataset 'mnist' is not prepared", 'tfds build mnist', 'TFDS_DATA_DIR')


@pytest.fixture(scope='module')
def trained_workdir(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('trained')
  assert launch([SMOKE, f'--workdir={workdir}']).returncode == 0
  return workdir


def test_incompatible_checkpoint_is_named_and_kept(trained_workdir, tmp_path, capfd):
  import shutil
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)
  before = tree_digest(workdir / 'checkpoints')
  result = start_in_process(capfd, workdir, '--config.model.features=(8,16)')
  assert_one_line_error(result, f'checkpoint {workdir}/checkpoints/4 cannot be restored', 'left untouched')
  assert tree_digest(workdir / 'checkpoints') == before


def test_corrupt_checkpoint_is_named_and_kept(trained_workdir, tmp_path):
  import shutil
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)
  for root, _, files in os.walk(workdir / 'checkpoints' / '4'):
    for name in files:
      with open(os.path.join(root, name), 'r+b') as f:
        f.write(b'\x00garbage\x00' * 4)
  before = tree_digest(workdir / 'checkpoints')
  result = launch([SMOKE, f'--workdir={workdir}'])
  assert_one_line_error(result, f'checkpoint {workdir}/checkpoints/4 is damaged (')
  assert tree_digest(workdir / 'checkpoints') == before


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(trained_workdir, tmp_path, capfd):
  import shutil
  workdir = tmp_path / 'run'
  shutil.copytree(trained_workdir, workdir)
  result = start_in_process(capfd, workdir, '--config.num_train_steps=20', '--config.schedule.base_lr=1e9',
                            '--config.checkpoint_every_steps=100')
  assert_one_line_error(result, 'became non-finite', 'last good checkpoint is step 4')
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['2', '4']


@pytest.mark.parametrize('config_name, key, value, message', [
    ('digits_cnn', 'dataset.image_size', 8, 'LeNet-5 needs images of at least 12x12 pixels (its last pooling would '
                                            'be empty), got 8x8: raise dataset.image_size'),
    ('digit_scenes_yolo', 'model.size', 'z', "YOLOv8 size must be one of ('n', 's', 'm', 'l', 'x'), got 'z'"),
    ('digit_scenes_faster_rcnn', 'model.neck', 'bifpn', "Faster R-CNN neck must be one of ('fpn', 'none'), got 'bifpn'"),
])
def test_what_a_model_cannot_take_is_one_user_error_line(tmp_path, config_name, key, value, message):
  """Issue #28: model constructors' checks (sizes, names, an input too small) were ValueErrors or a
  ZeroDivisionError printed inside a traceback; now UserErrors (ConfigError), which launch prints alone."""
  config = load_config(config_name)
  parent, leaf = key.split('.')
  config[parent][leaf] = value
  with pytest.raises(UserError, match=re.escape(message)):
    run(config, str(tmp_path))
