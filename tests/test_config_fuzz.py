"""Config fuzzing (issue #28): each key of every config's smoke variant, mutated one at a time as a
user would type it (--config.KEY=VALUE: zero, negative, huge, not a number, an unknown word, empty),
must either pass the launch's checks and set up (launch.py --dry_run: data source, model, state and
one train step traced to shapes), or stop with one user-error line; never another exception.

The flag parser and the rules take milliseconds, a dry run seconds, so `make test` checks a fixed
sample (FUZZ_CHECKS mutations through the parser and rules; FUZZ_SETUPS of those that pass, each of
another config, set up); VISION_JAX_FUZZ=all runs every mutation through both (hours on 2 cores).
"""

import dataclasses
import os
import random
import tempfile
import traceback

import pytest
import tensorflow_datasets as tfds

from tests.helpers import ROOT, parse_launch_config as parse
from vision_jax.config_rules import validate
from vision_jax.errors import UserError
from vision_jax.tasks import run

# configs/FILE.py -> its smoke variant's arg.
SMOKE_ARGS = {
    'cifar10_resnet': '20,smoke', 'cifar10_vgg16_bn': 'smoke', 'coco_faster_rcnn': 'smoke',
    'coco_retinanet': 'smoke', 'coco_ssd': 'ssdlite,smoke', 'coco_yolo': 'n,smoke',
    'cyclegan': 'horse2zebra,smoke', 'digit_scenes_faster_rcnn': 'smoke', 'digit_scenes_retinanet': 'smoke',
    'digit_scenes_ssd': 'smoke', 'digit_scenes_yolo': 'smoke', 'digit_scenes_yolov1': 'smoke',
    'digits_cnn': 'smoke', 'digits_cyclegan': 'smoke', 'digits_dcgan': 'smoke', 'digits_inpaint': 'smoke',
    'digits_pix2pix': 'smoke', 'fashion_mnist_cnn': 'smoke', 'fast_style': 'photos,smoke',
    'few_shot_transfer': 'digits,probe,smoke', 'imagenet_predict': 'smoke', 'imagenet_resnet50': 'smoke',
    'mnist_lenet': 'smoke', 'neural_style': 'smoke', 'pix2pix': 'smoke', 'tfds_inpaint': 'celeb_a,smoke',
    'voc_faster_rcnn': 'vgg16,smoke', 'voc_retinanet': 'smoke', 'voc_ssd': 'ssd300,smoke',
    'voc_yolov1': 'fast,smoke',
}
# What a user might type for a key holding a value of each type.
MUTATIONS = {
    int: ('0', '-1', '1000000000', 'abc', ''),
    float: ('0', '-1', '1e9', 'nan', 'abc'),
    str: ('', 'nope', '-1'),
    bool: ('abc', '2'),
    tuple: ('()', '(-1,)', 'abc'),
    list: ('[]', '[-1]', 'abc'),
    type(None): ('0', 'abc', ''),
}
FUZZ_CHECKS = 2000
FUZZ_SETUPS = 10
MOCK_EXAMPLES = 6


@dataclasses.dataclass(frozen=True)
class Mutation:
  config: str   # configs/<config>.py
  key: str      # dotted
  value: str    # as typed after --config.KEY=

  def argv(self) -> list[str]:
    return ['fuzz', f'--config={ROOT}/configs/{self.config}.py:{SMOKE_ARGS[self.config]}',
            f'--config.{self.key}={self.value}']


def leaf_keys(config, prefix: str = '') -> list[tuple[str, object]]:
  """(dotted key, value) of every leaf of a ConfigDict."""
  leaves = []
  for key, value in config.items():
    if hasattr(value, 'items'):
      leaves += leaf_keys(value, f'{prefix}{key}.')
    else:
      leaves.append((f'{prefix}{key}', value))
  return leaves


def all_mutations() -> list[Mutation]:
  mutations = []
  for name, arg in SMOKE_ARGS.items():
    base = parse(['fuzz', f'--config={ROOT}/configs/{name}.py:{arg}'])
    for key, value in leaf_keys(base):
      for typed in MUTATIONS.get(type(value), MUTATIONS[str]):
        mutations.append(Mutation(name, key, typed))
  return mutations


def outcome(mutation: Mutation, set_up: bool) -> str:
  """'refused: LINE', 'passes' (the rules; set_up=False) or 'sets up'; any other exception raises."""
  try:
    config = parse(mutation.argv())
    validate(config)
    if not set_up:
      return 'passes'
    with tempfile.TemporaryDirectory() as workdir, tfds.testing.mock_data(num_examples=MOCK_EXAMPLES):
      run(config, os.path.join(workdir, 'run'), dry_run=True)
    return 'sets up'
  except UserError as e:
    line = str(e)
    assert line and '\n' not in line.strip(), f'{mutation}: a user error of several lines: {line!r}'
    return f'refused: {line}'


def one_per_config(mutations: list[Mutation], count: int, rng: random.Random) -> list[Mutation]:
  """`count` mutations of as many different configs (drawn with `rng`)."""
  by_config: dict[str, list[Mutation]] = {}
  for mutation in mutations:
    by_config.setdefault(mutation.config, []).append(mutation)
  configs = rng.sample(sorted(by_config), min(count, len(by_config)))
  return [rng.choice(by_config[name]) for name in configs]


def unexpected_outcomes(mutations: list[Mutation], set_up: bool) -> tuple[list[Mutation], list[str]]:
  """(the mutations that pass the rules, a report of each that raised anything but a UserError)."""
  passing, unexpected = [], []
  for mutation in mutations:
    try:
      if outcome(mutation, set_up) == 'passes':
        passing.append(mutation)
    except Exception:  # noqa: BLE001  (collected: the test lists every one)
      unexpected.append(f'{mutation}: {traceback.format_exc(limit=-3)}')
  return passing, unexpected


def test_every_config_key_mutated_is_refused_in_one_line_or_sets_up():
  mutations = all_mutations()
  assert len(mutations) > 10_000 and {m.config for m in mutations} == set(SMOKE_ARGS)
  everything = os.environ.get('VISION_JAX_FUZZ') == 'all'
  rng = random.Random(0)
  checked = mutations if everything else rng.sample(mutations, FUZZ_CHECKS)
  passing, unexpected = unexpected_outcomes(checked, set_up=False)
  assert not unexpected, '\n'.join(unexpected)
  assert 0 < len(passing) < len(checked)
  set_up = passing if everything else one_per_config(passing, FUZZ_SETUPS, rng)
  _, unexpected = unexpected_outcomes(set_up, set_up=True)
  assert not unexpected, '\n'.join(unexpected)


def test_a_dry_run_sets_up_and_writes_nothing(tmp_path):
  report = run(parse(['fuzz', f'--config={ROOT}/configs/digits_cnn.py:smoke']), str(tmp_path / 'run'), dry_run=True)
  assert report['parameters'] == 61_706 and report['batch'] == {'image': 'float32[16, 28, 28, 1]', 'label': 'int32[16]'}
  assert {'loss', 'accuracy'} <= set(report['train_metrics']) and not (tmp_path / 'run').exists()


@pytest.mark.parametrize('mutation, expected', [
    (Mutation('digits_cnn', 'dataset.image_size', '1000000000'),  # aborted XLA's compiler (resize)
     'refused: config.dataset.image_size = 1000000000 must be in [0, 8192]'),
    (Mutation('digit_scenes_ssd', 'batch_size', '1000000000'),  # rendered scenes until out of memory
     'refused: config.batch_size = 1000000000 needs'),
    (Mutation('coco_faster_rcnn', 'model.box_positive_fraction', 'nan'),  # a TypeError in the sampler
     'refused: config.model.box_positive_fraction = nan is not a number'),
    (Mutation('digit_scenes_retinanet', 'dataset.brightness', 'nan'),  # a ValueError in the augmentation
     'refused: config.dataset.brightness = nan is not a number'),
    (Mutation('cifar10_resnet', 'dataset.std', 'abc'),  # a TypeError inside the rule
     "refused: config.dataset.std = ('abc',) must be > 0"),
    (Mutation('digit_scenes_yolo', 'model.depth', '1e9'),  # built blocks until out of memory
     'refused: config.model.depth = 1000000000.0 must be in [0, 8]'),
    (Mutation('digits_cnn', 'lr_multipliers', 'abc'),  # a TypeError building the optimizer
     "refused: config.lr_multipliers = ('abc',) must be (REGEX, multiplier >= 0) pairs"),
    (Mutation('digit_scenes_ssd', 'evals.pictures.num_images', '0'),  # 0 draws none (tests use it)
     'sets up'),
    (Mutation('digits_dcgan', 'evals.fid.record', ''),  # the scorer evaluator needed a trained scorer to set up
     'sets up'),
])
def test_cases_the_fuzzing_found(mutation, expected):
  assert outcome(mutation, set_up=True).startswith(expected)
