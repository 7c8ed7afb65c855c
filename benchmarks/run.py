"""Benchmarks: vision_jax's train/eval steps beside PyTorch references, and the input pipelines.

  python benchmarks/run.py --models=lenet,resnet20 --frameworks=jax,torch --out=benchmarks/results.json

Each (model, framework) runs in its own subprocess, so peak memory and compile caches are its own.
Frameworks: jax, torch (eager, channels_last), torch_compile (channels_last + torch.compile),
torchvision (torchvision's own detectors, eager; needs torchvision).
Per model it records the median train-step images/s over timed steps after warm-up (each step
synchronised), compile time (kept out of the timed steps), peak memory and eval images/s; the
ratio JAX / best PyTorch; and, with --pipelines, tf.data decode+augment images/s per core.
Writes --out (JSON) and the generated table of benchmarks/RESULTS.md (between its markers).
Never imports TensorFlow unless --pipelines is given (the GPU machine has none).
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from benchmarks import report  # noqa: E402
from benchmarks.specs import SPECS  # noqa: E402
from vision_jax import host_memory  # noqa: E402

FRAMEWORKS = ('jax', 'jax_onednn', 'torch', 'torch_compile', 'torchvision')

flags.DEFINE_list('models', list(SPECS), f'models to run: {", ".join(SPECS)}')
flags.DEFINE_list('frameworks', ['jax', 'torch', 'torch_compile'], f'of {", ".join(FRAMEWORKS)}')
flags.DEFINE_integer('batch', 0, 'global batch for every model; 0: each model\'s default for the platform')
flags.DEFINE_enum('dtype', 'float32', ['float32', 'bfloat16'], 'compute dtype (PyTorch: autocast)')
flags.DEFINE_integer('warmup', 3, 'untimed steps after compilation')
flags.DEFINE_integer('steps', 10, 'timed train steps')
flags.DEFINE_integer('eval_steps', 10, 'timed eval steps')
flags.DEFINE_list('pipelines', [], 'input pipelines to time: classification, detection, folder')
flags.DEFINE_integer('pipeline_batches', 20, 'timed batches per pipeline measurement')
flags.DEFINE_integer('pipeline_batch', 32, 'images per pipeline batch')
flags.DEFINE_string('out', 'benchmarks/results.json', 'JSON results')
flags.DEFINE_bool('append', False, 'add this run\'s rows to those already in --out (one JSON from several runs)')
flags.DEFINE_string('results_md', 'benchmarks/RESULTS.md', 'markdown whose generated table is replaced; "" skips')
flags.DEFINE_string('label', '', 'a name for this run in RESULTS.md (e.g. "CPU defaults")')
flags.DEFINE_bool('huge_pages', True, 'run every measurement with glibc asking for transparent huge pages, as '
                  'launch.py runs (vision_jax/host_memory.py); --nohuge_pages: the environment as it is')
flags.DEFINE_bool('donate', True, 'JAX: donate the train state to the step (as the trainer does)')
flags.DEFINE_string('single', '', 'internal: MODEL:FRAMEWORK, run one measurement and print its JSON')
flags.DEFINE_integer('timeout', 1800, 'seconds per (model, framework) subprocess')
FLAGS = flags.FLAGS


def default_batch(spec) -> int:
  import jax
  return spec.gpu_batch if jax.default_backend() in ('gpu', 'cuda', 'rocm', 'tpu') else spec.cpu_batch


def measure(model: str, framework: str) -> dict:
  """One (model, framework) measurement in this process."""
  from benchmarks import timing
  spec = SPECS[model]
  batch = FLAGS.batch or default_batch(spec)
  baseline = timing.peak_rss_mb()
  if framework in ('jax', 'jax_onednn'):
    from benchmarks import bench_jax
    result = bench_jax.benchmark(spec, batch, FLAGS.dtype, FLAGS.warmup, FLAGS.steps, FLAGS.eval_steps,
                                 FLAGS.donate, 'onednn' if framework == 'jax_onednn' else 'xla')
  else:
    import torch
    from benchmarks import bench_jax, bench_torch
    torch.set_num_threads(os.cpu_count() or 1)
    host = bench_jax.synthetic_batch(spec, batch)
    result = bench_torch.benchmark(spec, host, FLAGS.dtype, FLAGS.warmup, FLAGS.steps, FLAGS.eval_steps,
                                   framework)
  return {'model': model, 'framework': framework, 'batch': batch, 'dtype': FLAGS.dtype,
          'peak_rss_mb': timing.peak_rss_mb(), 'baseline_rss_mb': baseline, **result}


def measurement_environment() -> dict:
  """The environment of every measurement subprocess, the same for all frameworks."""
  return host_memory.with_huge_pages(os.environ) if FLAGS.huge_pages else dict(os.environ)


def run_subprocess(model: str, framework: str, argv: list[str]) -> dict:
  """measure() in a fresh interpreter; failures become {'error': ...}."""
  from benchmarks import timing
  passthrough = [a for a in argv[1:] if not a.startswith(('--models', '--frameworks', '--single', '--out', '--append',
                                                          '--results_md', '--pipelines', '--label', '--huge_pages',
                                                          '--nohuge_pages'))]
  command = [sys.executable, os.path.abspath(__file__), f'--single={model}:{framework}', *passthrough]
  return {'model': model, 'framework': framework,
          **timing.run_measurement(command, measurement_environment(), ROOT, FLAGS.timeout)}


def main(argv):
  if FLAGS.single:
    model, framework = FLAGS.single.split(':')
    print(json.dumps(measure(model, framework)), flush=True)
    return
  unknown = [m for m in FLAGS.models if m not in SPECS] + [f for f in FLAGS.frameworks if f not in FRAMEWORKS]
  if unknown:
    raise app.UsageError(f'unknown model or framework: {", ".join(unknown)}')
  rows = []
  for model in FLAGS.models:
    for framework in FLAGS.frameworks:
      if not SPECS[model].runs(framework):
        continue
      row = run_subprocess(model, framework, sys.argv)
      print(report.row_line(row), flush=True)
      rows.append(row)
  pipelines = {}
  for name in FLAGS.pipelines:
    from benchmarks import pipelines as P
    pipelines[name] = P.benchmark(name, FLAGS.pipeline_batches, FLAGS.pipeline_batch)
    print(f'pipeline {name}: {pipelines[name]}', flush=True)
  if FLAGS.append and os.path.exists(FLAGS.out):
    with open(FLAGS.out) as f:
      earlier = json.load(f)
    rows, pipelines = earlier['results'] + rows, {**earlier.get('pipelines', {}), **pipelines}
  results = {'environment': report.environment(measurement_environment()), 'label': FLAGS.label, 'results': rows,
             'ratios': report.ratios(rows), 'pipelines': pipelines}
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
  with open(FLAGS.out, 'w') as f:
    json.dump(results, f, indent=1)
  if FLAGS.results_md:
    report.update_markdown(FLAGS.results_md, results)
  print(report.table(results))


if __name__ == '__main__':
  app.run(main)
