"""Digit-scenes SSD trained from a COCO JSON on disk against the same run on the in-memory source
(issue #14: the same mAP50 within 0.01 at the same steps and seed).

  .venv/bin/python experiments/own_data/compare.py --steps=600 --data=/tmp/own_data

Writes the train scenes the in-memory run draws (seed 0's stream: scenes 0 .. steps x batch - 1)
and the 500 test scenes as 8-bit PNGs with COCO JSONs, then trains configs/digit_scenes_ssd.py
for --steps on each (same seed, schedule, photometric augmentation; the in-memory run augments in
numpy, the file run in tf.data and in its own shuffled order) and writes results.json beside this
file with both final evaluations and the wall times.
"""

import json
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from configs import digit_scenes_ssd  # noqa: E402
from vision_jax.data.write_layouts import write_coco_json  # noqa: E402
from vision_jax.tasks import run  # noqa: E402

flags.DEFINE_integer('steps', 600, 'training steps of each run')
flags.DEFINE_string('data', '/tmp/own_data', 'where the PNGs and JSONs are written')
flags.DEFINE_string('workdirs', '/tmp/own_data_runs', 'the two runs go to WORKDIRS/memory and WORKDIRS/coco_json')
FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))


def config_for(source: str, data: str):
  """configs/digit_scenes_ssd.py for --steps, on the bundled scenes or on the written COCO JSON."""
  c = digit_scenes_ssd.get_config()
  c.num_train_steps = c.eval_every_steps = FLAGS.steps
  del c.evals['bright']   # a digit-scenes-only re-drawing of the test set
  if source == 'coco_json':
    c.dataset.update({'name': 'coco_json', 'train_annotations': os.path.join(data, 'train.json'),
                      'eval_annotations': os.path.join(data, 'test.json'), 'image_size': 128})
  return c


def main(argv):
  del argv
  c = config_for('memory', FLAGS.data)
  start = time.perf_counter()
  if not os.path.exists(os.path.join(FLAGS.data, 'test.json')):
    write_coco_json(os.path.join(FLAGS.data, 'images'), os.path.join(FLAGS.data, 'train.json'), 'train', 0,
                    FLAGS.steps * c.batch_size)
    write_coco_json(os.path.join(FLAGS.data, 'images'), os.path.join(FLAGS.data, 'test.json'), 'test', 0,
                    c.dataset.num_test_scenes)
  results = {'steps': FLAGS.steps, 'batch_size': c.batch_size, 'write_s': time.perf_counter() - start}
  for source in ('memory', 'coco_json'):
    start = time.perf_counter()
    final = run(config_for(source, FLAGS.data), os.path.join(FLAGS.workdirs, source))
    results[source] = {'wall_s': time.perf_counter() - start,
                       **{k: v for k, v in final.items() if isinstance(v, (int, float))}}
    print(source, results[source], flush=True)
  results['mAP50_difference'] = results['coco_json']['mAP50'] - results['memory']['mAP50']
  with open(os.path.join(HERE, 'results.json'), 'w') as f:
    json.dump(results, f, indent=1)
  print(json.dumps(results, indent=1))


if __name__ == '__main__':
  app.run(main)
