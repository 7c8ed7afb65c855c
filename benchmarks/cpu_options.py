"""Measures XLA CPU options and our own step choices on one model (default ResNet-20, batch 128),
beside PyTorch in the same run, and writes the table into benchmarks/RESULTS.md.

  python benchmarks/cpu_options.py --model=resnet20 --out=benchmarks/cpu_options.json

Every option runs in a fresh process (XLA reads XLA_FLAGS once). The default configuration and
PyTorch run first and last, so drift of the shared machine shows in the table.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from benchmarks import report  # noqa: E402

# (name, XLA_FLAGS, extra benchmarks/run.py flags)
OPTIONS = (
    ('default', '', []),
    ('thunk runtime off', '--xla_cpu_use_thunk_runtime=false', []),
    ('XNNPACK off', '--xla_cpu_use_xnnpack=false', []),
    ('XNN graph fusion greedy', '--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY', []),
    ('XNN fusions: convolution, dot', '--xla_cpu_experimental_xnn_fusion_type=individual_convolution,individual_dot', []),
    ('YNN fusions: convolution, dot', '--xla_cpu_experimental_ynn_fusion_type=individual_convolution,individual_dot', []),
    ('oneDNN thunks', '--xla_cpu_use_onednn=true', []),
    ('oneDNN custom calls', '--xla_cpu_experimental_onednn_custom_call=true', []),
    ('oneDNN fusions: convolution, dot',
     '--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_fusion_type=individual_convolution,dot', []),
    ('fast math', '--xla_cpu_enable_fast_math=true', []),
    ('512-bit vectors', '--xla_cpu_prefer_vector_width=512', []),
    ('bfloat16 compute (AVX512_BF16)', '', ['--dtype=bfloat16']),
    ('no buffer donation', '', ['--nodonate']),
)

flags.DEFINE_string('model', 'resnet20', 'benchmarked model (benchmarks/specs.py)')
flags.DEFINE_integer('batch', 128, 'global batch')
flags.DEFINE_integer('steps', 10, 'timed steps')
flags.DEFINE_list('only', [], 'option names to run (default: all)')
flags.DEFINE_string('out', 'benchmarks/cpu_options.json', 'JSON results')
flags.DEFINE_string('results_md', 'benchmarks/RESULTS.md', 'markdown to update; "" skips')
FLAGS = flags.FLAGS


def measure(framework: str, xla_flags: str, extra: list[str]) -> dict:
  from benchmarks import timing
  env = dict(os.environ, XLA_FLAGS=xla_flags, TF_CPP_MIN_LOG_LEVEL='2')
  command = [sys.executable, os.path.join(ROOT, 'benchmarks', 'run.py'), f'--single={FLAGS.model}:{framework}',
             f'--batch={FLAGS.batch}', f'--steps={FLAGS.steps}', '--eval_steps=5', *extra]
  return timing.run_measurement(command, env, ROOT, 1800)


def table(rows: list[dict]) -> str:
  torch_rates = [r['images_per_sec'] for r in rows if r['framework'] != 'jax' and 'error' not in r]
  torch_best = max(torch_rates) if torch_rates else None
  lines = ['| option | XLA_FLAGS / run flags | train img/s | pipelined img/s | vs PyTorch best | eval img/s | compile s |',
           '|---|---|---:|---:|---:|---:|---:|']
  for r in rows:
    if 'error' in r:
      lines.append(f'| {r["name"]} | `{r["flags"]}` | failed: {r["error"]} | | | | |')
      continue
    ratio = f'{r["images_per_sec"] / torch_best:.2f}' if torch_best else '-'
    pipelined = f'{r["pipelined_images_per_sec"]:.1f}' if 'pipelined_images_per_sec' in r else '-'
    lines.append(f'| {r["name"]} | `{r["flags"]}` | {r["images_per_sec"]:.1f} | {pipelined} | {ratio} | '
                 f'{r["eval_images_per_sec"]:.1f} | {r["compile_s"]:.1f} |')
  return '\n'.join(lines)


def main(_):
  options = [o for o in OPTIONS if not FLAGS.only or o[0] in FLAGS.only]
  plan = [('PyTorch eager, channels_last', 'torch', '', [])] + [(n, 'jax', x, e) for n, x, e in options]
  plan += [('PyTorch torch.compile, channels_last', 'torch_compile', '', []),
           ('default (again, last)', 'jax', '', []), ('PyTorch eager (again, last)', 'torch', '', [])]
  rows = []
  for name, framework, xla_flags, extra in plan:
    row = {'name': name, 'framework': framework, 'flags': ' '.join([xla_flags, *extra]).strip() or '-',
           **measure(framework, xla_flags, extra)}
    print(name, '->', row.get('images_per_sec', row.get('error')), flush=True)
    rows.append(row)
  with open(FLAGS.out, 'w') as f:
    json.dump(rows, f, indent=1)
  text = table(rows)
  if FLAGS.results_md:
    header = report.environment_line(report.environment())
    report.replace_section(FLAGS.results_md, f'cpu-options-{FLAGS.model}',
                           f'{header}\n\n{FLAGS.model}, batch {FLAGS.batch}, median of {FLAGS.steps} synchronised '
                           f'steps.\n\n{text}')
  print(text)


if __name__ == '__main__':
  app.run(main)
