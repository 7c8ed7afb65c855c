"""Short runs of every detector demo, the classifier demo and a GAN demo, for checking that a
restructure is numerically neutral: run it before and after, then compare the two JSON files.

  python experiments/restructure/short_runs.py --out=/tmp/before.json [--root=/tmp/short_runs]
  python experiments/restructure/short_runs.py --compare /tmp/before.json /tmp/after.json

Each run is the demo's config unchanged except for its length (20 steps, a log line every 10, one
evaluation at the end on fewer test scenes, no pictures); the JSON holds each run's train records and
its evaluation records (every number metrics.jsonl has, time and throughput excluded).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHORT = ['--config.num_train_steps=20', '--config.log_every_steps=10', '--config.eval_every_steps=20',
         '--config.checkpoint_every_steps=20']
SCENES = ['--config.dataset.num_test_scenes=48', '--config.eval_batch_size=16', '--config.schedule.warmup_steps=5',
          '--config.evals.pictures.num_images=0']
RUNS = {
    'ssd': ('configs/digit_scenes_ssd.py', SHORT + SCENES),
    'faster_rcnn': ('configs/digit_scenes_faster_rcnn.py', SHORT + SCENES),
    'yolo': ('configs/digit_scenes_yolo.py', SHORT + SCENES),
    'yolov1': ('configs/digit_scenes_yolov1.py', SHORT + SCENES),
    'classifier': ('configs/digits_cnn.py', SHORT),
    'dcgan': ('configs/digits_dcgan.py:smoke', ['--config.num_train_steps=20', '--config.log_every_steps=10',
                                                '--config.eval_every_steps=20', '--config.checkpoint_every_steps=20']),
}
UNTIMED = ('time', 'steps_per_sec', 'examples_per_sec', 'images_per_sec', 'seconds', 'elapsed')


def numbers(record: dict) -> dict:
  """A metrics.jsonl record without its timings."""
  return {k: v for k, v in record.items() if not any(t in k for t in UNTIMED)}


def run(name: str, root: str) -> list[dict]:
  config, flags = RUNS[name]
  workdir = os.path.join(root, name)
  shutil.rmtree(workdir, ignore_errors=True)
  subprocess.run([sys.executable, 'launch.py', f'--config={config}', f'--workdir={workdir}', *flags],
                 cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [numbers(json.loads(line)) for line in f if line.strip()]


def compare(before: dict, after: dict) -> int:
  """Prints every number that differs; returns how many did."""
  differing = 0
  for name in sorted(set(before) | set(after)):
    a, b = before.get(name, []), after.get(name, [])
    if len(a) != len(b):
      print(f'{name}: {len(a)} records before, {len(b)} after')
      differing += 1
      continue
    for ra, rb in zip(a, b):
      for key in sorted(set(ra) | set(rb)):
        if ra.get(key) != rb.get(key):
          print(f'{name} step {ra.get("step")} {key}: {ra.get(key)} -> {rb.get(key)}')
          differing += 1
  print(f'{differing} numbers differ')
  return differing


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--out')
  parser.add_argument('--root', default='/tmp/short_runs')
  parser.add_argument('--only', default=','.join(RUNS))
  parser.add_argument('--compare', nargs=2)
  args = parser.parse_args()
  if args.compare:
    with open(args.compare[0]) as f, open(args.compare[1]) as g:
      sys.exit(1 if compare(json.load(f), json.load(g)) else 0)
  results = {}
  for name in args.only.split(','):
    results[name] = run(name, args.root)
    print(name, results[name][-1], flush=True)
  with open(args.out, 'w') as f:
    json.dump(results, f, indent=1)


if __name__ == '__main__':
  main()
