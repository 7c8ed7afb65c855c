"""The bundled demo (`make demo`) reaches its documented accuracy. Time is not asserted here."""

from tests.helpers import load_config
from vision_jax.tasks import run


def test_digits_demo_reaches_at_least_0_985_top1(tmp_path):
  final = run(load_config('digits_cnn', None), str(tmp_path))
  assert final['step'] == 1000 and final['num_examples'] == 360
  assert final['accuracy'] >= 0.985, final
