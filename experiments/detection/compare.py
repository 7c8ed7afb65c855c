"""Trains and measures the four detector families on the bundled digit scenes and writes the
comparison table of experiments/detection/README.md.

  python experiments/detection/compare.py --runs=runs/compare [--only=yolov1,yolo]

Each detector is exactly `python launch.py --config=configs/CONFIG.py --workdir=RUNS/CONFIG`, run
as a subprocess and timed (its wall clock, compilation and evaluations included, is the training
time). A finished workdir is not retrained. Then, in this process: mAP50 (VOC all-point), COCO
AP@[.5:.95] and AP for small objects (pycocotools) from the run's final evaluation on the 500
test scenes, the parameter count, and evaluation images/s (model and NMS, batches of 100, the
median of three passes over the test scenes after a warm-up). Writes RUNS/results.jsonl and the
table (--table).
"""

import importlib
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from vision_jax.data.tfds_source import hide_gpus_from_tensorflow  # noqa: E402
from vision_jax.detection.families import build_detector  # noqa: E402
from vision_jax.tasks import detection  # noqa: E402
from vision_jax.train.state import place_like  # noqa: E402
from vision_jax.train.checkpoint import latest_checkpoint, variables_from_checkpoint  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string('runs', 'runs/compare', 'Folder for the four workdirs and results.jsonl.')
flags.DEFINE_string('only', '', 'Comma-separated keys of DETECTORS to (re)measure; empty: all.')
flags.DEFINE_string('table', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'table.md'),
                    'Markdown table to write.')

# key -> (table name, config)
DETECTORS = {
    'ssd': ('SSD (tiny base)', 'digit_scenes_ssd'),
    'faster_rcnn': ('Faster R-CNN (tiny FPN)', 'digit_scenes_faster_rcnn'),
    'yolov1': ('YOLOv1 (8x8 grid)', 'digit_scenes_yolov1'),
    'yolo': ('YOLOv8-style', 'digit_scenes_yolo'),
}


def load_config(name: str):
  """configs/NAME.py's default config, as launch.py builds it."""
  return importlib.import_module(f'configs.{name}').get_config(None)


def final_eval(workdir: str, num_train_steps: int):
  """The run's last 'eval' line when it evaluated its final step, else None."""
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return None
  evals = [json.loads(line) for line in open(path) if '"split": "eval"' in line]
  return evals[-1] if evals and evals[-1]['step'] == num_train_steps else None


def train(name: str, workdir: str) -> float:
  """Runs the demo's command; returns its wall-clock seconds."""
  command = [sys.executable, 'launch.py', f'--config=configs/{name}.py', f'--workdir={workdir}']
  start = time.time()
  subprocess.run(command, cwd=ROOT, check=True)
  return time.time() - start


def eval_throughput(config, workdir: str) -> tuple[int, float]:
  """(parameters, test images per second through the jitted model + NMS)."""
  config.evals.pictures.num_images = 0
  method, _ = detection.build(config, os.path.join(workdir, 'compare_tmp'))
  source = detection.build_source(config)
  state = method.create_state(jax.random.PRNGKey(0))
  state = place_like(variables_from_checkpoint(latest_checkpoint(os.path.abspath(workdir))), state)
  variables = {'params': state.params, **({'batch_stats': state.batch_stats} if state.batch_stats else {})}
  infer = jax.jit(build_detector(config, source.num_classes, tuple(source.image_shape)).detect)
  batches = [b['image'] for b in source.eval_batches()]
  jax.block_until_ready(infer(variables, batches[0]))
  passes = []
  for _ in range(3):
    start = time.perf_counter()
    for images in batches:
      jax.block_until_ready(infer(variables, images))
    passes.append(time.perf_counter() - start)
  params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(state.params))
  return params, source.num_eval_examples / float(np.median(passes))


def measure(key: str) -> dict:
  table_name, name = DETECTORS[key]
  workdir = os.path.join(FLAGS.runs, name)
  config = load_config(name)
  seconds_path = os.path.join(workdir, 'train_seconds.json')
  if final_eval(workdir, config.num_train_steps) is None:
    seconds = train(name, workdir)
    with open(seconds_path, 'w') as f:
      json.dump({'train_seconds': seconds}, f)
  seconds = json.load(open(seconds_path))['train_seconds'] if os.path.exists(seconds_path) else float('nan')
  final = final_eval(workdir, config.num_train_steps)
  params, images_per_s = eval_throughput(config, workdir)
  return {'key': key, 'detector': table_name, 'config': name, 'mAP50': final['mAP50'],
          'coco_AP': final.get('coco_AP'), 'coco_APs': final.get('coco_APs'), 'params': params,
          'train_seconds': round(seconds, 1), 'eval_images_per_s': round(images_per_s, 1),
          'steps': config.num_train_steps, 'batch_size': config.batch_size,
          'command': f'python launch.py --config=configs/{name}.py --workdir={workdir}'}


def table(results: list[dict]) -> str:
  lines = ['| detector | mAP50 (VOC) | COCO AP@[.5:.95] | AP small | parameters | training (s) | eval images/s | config |',
           '|---|---|---|---|---|---|---|---|']
  for r in results:
    lines.append(f"| {r['detector']} | {r['mAP50']:.4f} | {r['coco_AP']:.4f} | {r['coco_APs']:.4f} | "
                 f"{r['params']:,} | {r['train_seconds']:.1f} | {r['eval_images_per_s']:.1f} | "
                 f"`configs/{r['config']}.py` |")
  return '\n'.join(lines) + '\n'


def main(argv):
  del argv
  hide_gpus_from_tensorflow()
  os.makedirs(FLAGS.runs, exist_ok=True)
  results_path = os.path.join(FLAGS.runs, 'results.jsonl')
  for key in (FLAGS.only.split(',') if FLAGS.only else DETECTORS):
    record = measure(key)
    with open(results_path, 'a') as f:
      f.write(json.dumps(record) + '\n')
    print(json.dumps(record), flush=True)
  latest = {r['key']: r for r in map(json.loads, open(results_path))}   # the newest line per detector
  results = [latest[k] for k in DETECTORS if k in latest]
  with open(FLAGS.table, 'w') as f:
    f.write(table(results))
  print(open(FLAGS.table).read())


if __name__ == '__main__':
  app.run(main)
