"""Test helpers: load configs by name, run launch.py in a subprocess, read metrics."""

import contextlib
import hashlib
import importlib
import json
import os
import subprocess
import sys

from absl import flags
from ml_collections import ConfigDict, config_flags

from vision_jax import launching
from vision_jax.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH = os.path.join(ROOT, 'launch.py')
# Tests are compile-bound on CPU: skipping LLVM's optimisation passes halves a smoke launch
# (e.g. 43 s -> 25 s). Numerics stay float32 (rounding may differ in the last bits from -O2 code).
FAST_COMPILE = '--xla_backend_optimization_level=0'


def load_config(name: str, arg: str = 'smoke'):
  """configs/<name>.py's get_config(arg), as launch.py would build it (unlocked)."""
  return importlib.import_module(f'configs.{name}').get_config(arg)


def subprocess_env(num_devices: int = 1, **extra) -> dict:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=ROOT,
             XLA_FLAGS=f'{FAST_COMPILE} --xla_force_host_platform_device_count={num_devices}')
  env.update(extra)
  return env


def launch(args: list[str], num_devices: int = 1, timeout: int = 300,
           env: dict | None = None) -> subprocess.CompletedProcess:
  """Runs `python launch.py ARGS` and returns the finished process (stdout/stderr as text)."""
  command = [sys.executable, LAUNCH] + args
  return subprocess.run(command, cwd=ROOT, env=env or subprocess_env(num_devices),
                        capture_output=True, text=True, timeout=timeout)


def start_launch(args: list[str], num_devices: int = 1, **popen_kwargs) -> subprocess.Popen:
  """Starts `python launch.py ARGS` without waiting."""
  return subprocess.Popen([sys.executable, LAUNCH] + args, cwd=ROOT, env=subprocess_env(num_devices),
                          **popen_kwargs)


def metrics(workdir: str, split: str | None = None) -> list[dict]:
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  return [r for r in records if split is None or r['split'] == split]


def predict_scene_and_check(config, workdir) -> list[dict]:
  """Runs predict_image on a 128 px digit scene saved as PNG (with every detection kept) and checks
  each COCO-format result: a digit's category id (1-10) and a box inside the image. Returns them."""
  from PIL import Image
  from vision_jax.data.digit_scenes import make_scene
  from vision_jax.tasks import run
  path = os.path.join(str(workdir), 'scene.png')
  Image.fromarray((make_scene(0, 'test')[0] * 255).astype('uint8')).save(path)
  config.predict_image = path
  config.predict_score_threshold = 0.0
  run(config, str(workdir))
  with open(os.path.join(str(workdir), 'predictions', 'scene', 'detections.json')) as f:
    records = json.load(f)
  for record in records:
    x, y, w, h = record['bbox']
    assert 0 <= x <= x + w <= 128 and 0 <= y <= y + h <= 128 and 1 <= record['category_id'] <= 10
    assert record['image_id'] == 0
  return records


def tree_digest(path) -> str:
  """A hash of every file's relative path and bytes under `path`: equal means nothing was touched."""
  digest = hashlib.sha256()
  for root, _, names in sorted(os.walk(path)):
    for name in sorted(names):
      full = os.path.join(root, name)
      with open(full, 'rb') as f:
        digest.update(os.path.relpath(full, path).encode() + f.read())
  return digest.hexdigest()


def start_in_process(capfd, workdir, *overrides: str, config: str = 'digits_cnn.py:smoke') -> subprocess.CompletedProcess:
  """launch.py's path after the flag parser (launching.start) in this process, as a finished process:
  (exit status, stdout, stderr). A launch in a subprocess costs 10-30 s of imports and compiles more."""
  parsed = parse_launch_config(['launch.py', f'--config={ROOT}/configs/{config}', *overrides])
  code = 0
  try:
    launching.start(parsed, str(workdir))
  except SystemExit as e:
    code = e.code
  out, err = capfd.readouterr()
  return subprocess.CompletedProcess([], code, out, err)


def parse_launch_config(argv: list[str]):
  """The config launch.py's flag parser builds from `argv` ([prog, --config=..., --config.K=V ...]), in
  this process; a UserError where that parser fails (launch.py prints any of its errors as one line:
  launching.parse_flags)."""
  values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', None, 'config', flag_values=values, lock_config=True, sys_argv=argv)
  try:
    values(argv)
    launching.check_overrides(values)
    return values.config
  except UserError:
    raise
  except Exception as e:  # the parser's many types
    raise UserError(f'flag parsing: {e}') from None


def _config_nodes(config, prefix: str = ''):
  """(dotted prefix, node) of a ConfigDict and every ConfigDict inside it."""
  yield prefix, config
  for key in config.keys():
    value = config._fields[key]
    if isinstance(value, ConfigDict):
      yield from _config_nodes(value, f'{prefix}{key}.')


@contextlib.contextmanager
def recorded_reads(config):
  """A set that collects the dotted keys of config's leaves read (or looked up) inside the block (copies made with
  copy_and_resolve_references count as config); only for tests: it patches ConfigDict's item access."""
  paths = {id(node): prefix for prefix, node in _config_nodes(config)}
  reads = set()
  getitem, copy = ConfigDict.__getitem__, ConfigDict.copy_and_resolve_references

  def recording_getitem(self, key):
    if id(self) in paths and not isinstance(self._fields.get(key), ConfigDict):
      reads.add(f'{paths[id(self)]}{key}')  # a missing key too: config.get(key, default) consults it
    return getitem(self, key)

  def recording_copy(self, visit_map=None):
    copied = copy(self, visit_map)
    if id(self) in paths:
      paths.update({id(node): prefix for prefix, node in _config_nodes(copied, paths[id(self)])})
    return copied

  ConfigDict.__getitem__, ConfigDict.copy_and_resolve_references = recording_getitem, recording_copy
  try:
    yield reads
  finally:
    ConfigDict.__getitem__, ConfigDict.copy_and_resolve_references = getitem, copy
