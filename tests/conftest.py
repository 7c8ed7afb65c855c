"""Shared fixtures: repository root on sys.path so `configs.*` import as launch.py sees them."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# One XLA compilation cache for the whole suite (pytest workers and the launches they start): many
# tests compile the same programs (smoke configs, relaunches after a kill), and a cache hit halves
# a launch. Keys include the program and the jax version, so entries never serve other code.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', os.path.join(ROOT, '.pytest_cache', 'jax_compilation_cache'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '1')
from tests.helpers import FAST_COMPILE  # noqa: E402
if FAST_COMPILE not in os.environ.get('XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()

# torchvision.ops imports torch._dynamo and with it triton (torch 2.14.1's CUDA build); triton's
# native library crashes the process (SIGSEGV, no message) when it loads after TensorFlow's. The
# reference tests import torchvision (also through ultralytics), other tests TensorFlow, in any
# order: load triton first.
try:
  import torchvision.ops  # noqa: E402,F401
except ImportError:  # the test extra is not installed: the torchvision tests skip themselves
  pass


import shutil  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope='session')
def smoke_scorer(tmp_path_factory):
  """with_scorer(workdir): puts the smoke digits scorer, trained once per test process, into
  WORKDIR/scorer, where the GAN and inpainting tasks resume it instead of training their own."""
  from configs import digits_cnn
  from vision_jax.tasks import generative
  trained = tmp_path_factory.mktemp('scorer_cache')
  generative.train_scorer(digits_cnn.scorer_config(smoke=True), str(trained))

  def with_scorer(workdir) -> str:
    shutil.copytree(trained / 'scorer', os.path.join(workdir, 'scorer'))
    return str(workdir)
  return with_scorer
