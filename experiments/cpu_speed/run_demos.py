"""Wall time of the three CPU demos before and after issue #16 (oneDNN convolution + huge pages).

  python experiments/cpu_speed/run_demos.py --before=/tmp/before --out=experiments/cpu_speed/demos.json

--before is a checkout of the commit before issue #16's work (beb61c3: XLA's convolution, no huge
pages), --after one of the commit measured (default: this checkout), both run with this
interpreter (.venv) and their defaults, GLIBC_TUNABLES unset. Each launch runs alone, before and
after alternating per demo; the final eval line of each is kept.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMOS = {'digits_lenet': 'configs/digits_cnn.py', 'digit_scenes_ssd': 'configs/digit_scenes_ssd.py',
         'digits_dcgan': 'configs/digits_dcgan.py'}

flags.DEFINE_string('before', None, 'checkout of the commit before issue #16')
flags.DEFINE_string('after', ROOT, 'checkout of the commit measured (build its oneDNN library first)')
flags.DEFINE_list('demos', list(DEMOS), 'demos to run')
flags.DEFINE_list('labels', ['before', 'after'], 'which of the two checkouts to run')
flags.DEFINE_string('out', 'experiments/cpu_speed/demos.json', 'JSON results')
FLAGS = flags.FLAGS


def launch(checkout: str, config: str) -> dict:
  """One whole launch from `checkout` in a fresh workdir: wall seconds and the final eval line."""
  environ = {k: v for k, v in os.environ.items() if k != 'GLIBC_TUNABLES'}
  with tempfile.TemporaryDirectory() as workdir:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, 'launch.py', f'--config={config}', f'--workdir={workdir}'],
                            cwd=checkout, env=environ, capture_output=True, text=True)
    seconds = time.perf_counter() - start
  lines = [line for line in result.stdout.splitlines() if line.startswith('final eval')]
  return {'wall_s': round(seconds, 2), 'returncode': result.returncode,
          'final': lines[-1] if lines else result.stderr[-500:]}


def main(argv):
  del argv
  results = {}
  if os.path.exists(FLAGS.out):  # earlier launches stay unless run again
    with open(FLAGS.out) as f:
      results = json.load(f)
  checkouts = {'before': FLAGS.before, 'after': FLAGS.after}
  for name in FLAGS.demos:
    results.setdefault(name, {})
    for label in FLAGS.labels:
      checkout = checkouts[label]
      results[name][label] = launch(checkout, DEMOS[name])
      print(name, label, results[name][label], flush=True)
      with open(FLAGS.out, 'w') as f:
        json.dump(results, f, indent=1)


if __name__ == '__main__':
  flags.mark_flag_as_required('before')
  app.run(main)
