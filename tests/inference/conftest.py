"""Trained smoke workdirs shared by the inference tests (one per test process)."""

import pytest

from tests.helpers import load_config
from vision_jax.tasks import run


@pytest.fixture(scope='session')
def classifier_workdir(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('digits_cnn')
  run(load_config('digits_cnn'), str(workdir))
  return workdir


@pytest.fixture(scope='session')
def detector_workdir(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('digit_scenes_ssd')
  config = load_config('digit_scenes_ssd')
  config.evals = {}
  run(config, str(workdir))
  return workdir
