"""Runs the few-shot transfer grid and writes its table: configs/few_shot_transfer.py over
datasets x labels per class x seeds x {scratch, probe, finetune}.

  python experiments/transfer/run_grid.py --workdir=runs/transfer [--seeds=0,1,2]

Each cell is exactly
  python launch.py --config=configs/few_shot_transfer.py:DATASET,MODE --workdir=WORKDIR/CELL \\
      --config.seed=SEED --config.dataset.examples_per_class=N --config.batch_size=B
run in this one process (a persistent XLA cache under WORKDIR spares recompiling). Finished
cells are skipped, so an interrupted grid continues where it stopped. Writes
WORKDIR/results.jsonl and experiments/transfer/README.md's table (mean +- std over seeds).
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', 'runs/transfer', 'Folder for every cell and results.jsonl.')
flags.DEFINE_string('datasets', 'digits,lfw_faces', 'Comma-separated datasets.')
flags.DEFINE_string('labels', '1,5,10,0', 'Labels per class; 0 means all.')
flags.DEFINE_string('seeds', '0,1,2', 'Comma-separated seeds.')
flags.DEFINE_string('modes', 'scratch,probe,finetune', 'Comma-separated modes.')
flags.DEFINE_string('table', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'table.md'),
                    'Markdown table to write.')

TRAIN_SIZE = {'digits': (1437, 10), 'lfw_faces': (140, 2)}  # examples, classes


def cell_args(dataset: str, mode: str, labels: int, seed: int) -> tuple[str, dict]:
  """(config spec, overrides) of one cell; the batch never exceeds the labelled examples."""
  examples, classes = TRAIN_SIZE[dataset]
  labelled = labels * classes if labels else examples
  return f'{dataset},{mode}', {'seed': seed, 'dataset.examples_per_class': labels,
                               'batch_size': min(10, labelled)}


def command(workdir: str, spec: str, overrides: dict) -> str:
  flags_text = ' '.join(f'--config.{k}={v}' for k, v in overrides.items())
  return f'python launch.py --config=configs/few_shot_transfer.py:{spec} --workdir={workdir} {flags_text}'


def final_eval(workdir: str):
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return None
  evals = [json.loads(line) for line in open(path) if '"eval"' in line]
  return evals[-1] if evals and evals[-1]['step'] == 100 else None


def run_cell(workdir: str, spec: str, overrides: dict) -> dict:
  from configs import few_shot_transfer
  from vision_jax.tasks import run
  config = few_shot_transfer.get_config(spec)
  for key, value in overrides.items():
    node = config
    *parents, leaf = key.split('.')
    for parent in parents:
      node = node[parent]
    node[leaf] = value
  start = time.time()
  run(config, workdir)
  result = final_eval(workdir)
  result['wall_s'] = round(time.time() - start, 1)
  return result


def summarise(results: list[dict]) -> str:
  """Markdown: one row per (dataset, labels), mean +- std (population, ddof 0) of test accuracy per mode."""
  import numpy as np
  modes = FLAGS.modes.split(',')
  lines = ['| dataset | labels/class | ' + ' | '.join(modes) + ' | seeds |',
           '|---|---|' + '---|' * len(modes) + '---|']
  keys = sorted({(r['dataset'], r['labels']) for r in results}, key=lambda k: (k[0], k[1] or 10**6))
  for dataset, labels in keys:
    cells, seeds = [], set()
    for mode in modes:
      accs = [r['accuracy'] for r in results if (r['dataset'], r['labels'], r['mode']) == (dataset, labels, mode)]
      seeds.update(r['seed'] for r in results if (r['dataset'], r['labels'], r['mode']) == (dataset, labels, mode))
      cells.append(f'{np.mean(accs):.4f} ± {np.std(accs):.4f}' if accs else '')
    label_text = str(labels) if labels else f'all ({TRAIN_SIZE[dataset][0]} images)'
    lines.append(f'| {dataset} | {label_text} | ' + ' | '.join(cells) + f' | {len(seeds)} |')
  return '\n'.join(lines) + '\n'


def main(argv):
  del argv
  from vision_jax import launching
  import jax
  jax.config.update('jax_compilation_cache_dir', os.path.join(os.path.abspath(FLAGS.workdir), 'xla_cache'))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
  launching.hide_gpus_from_tensorflow()
  results_path = os.path.join(FLAGS.workdir, 'results.jsonl')
  os.makedirs(FLAGS.workdir, exist_ok=True)
  for labels in map(int, FLAGS.labels.split(',')):  # fewest labels first: the rows that matter most
    for dataset in FLAGS.datasets.split(','):
      for seed in map(int, FLAGS.seeds.split(',')):
        for mode in FLAGS.modes.split(','):
          spec, overrides = cell_args(dataset, mode, labels, seed)
          workdir = os.path.join(FLAGS.workdir, f'{dataset}_{labels or "all"}_{mode}_s{seed}')
          if final_eval(workdir) is not None:
            continue
          result = run_cell(workdir, spec, overrides)
          record = {'dataset': dataset, 'labels': labels, 'mode': mode, 'seed': seed,
                    'accuracy': result['accuracy'], 'wall_s': result['wall_s'],
                    'command': command(workdir, spec, overrides)}
          with open(results_path, 'a') as f:
            f.write(json.dumps(record) + '\n')
          print(json.dumps(record), flush=True)
  latest = {}
  for line in open(results_path):
    record = json.loads(line)
    latest[(record['dataset'], record['labels'], record['mode'], record['seed'])] = record
  results = list(latest.values())
  with open(FLAGS.table, 'w') as f:
    f.write(summarise(results))
  print(open(FLAGS.table).read())


if __name__ == '__main__':
  app.run(main)
