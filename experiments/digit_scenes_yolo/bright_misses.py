"""Where a trained digit-scenes detector loses its score on the `bright` scenes: for the first N test
scenes drawn normally and with brighter backgrounds (the bright evaluator's level 0.5), its
detections scoring >= 0.25 matched to the ground truth at IoU >= 0.5, counted as correct, wrong
class, missed digit, false positive on the background and extra box on a digit.

  python experiments/digit_scenes_yolo/bright_misses.py WORKDIR [N]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vision_jax import inference  # noqa: E402
from vision_jax.data.digit_scenes import IMAGE_SIZE, make_scene  # noqa: E402
from vision_jax.detection.boxes import pairwise_iou  # noqa: E402

MIN_SCORE, MIN_IOU = 0.25, 0.5


def count(truth: np.ndarray, labels: np.ndarray, found: dict, counts: dict) -> None:
  """Adds one scene's matches (truth boxes in pixels) to `counts`."""
  iou = np.asarray(pairwise_iou(truth, found['boxes'])) if len(truth) and len(found['boxes']) else np.zeros(
      (len(truth), len(found['boxes'])))
  used = np.zeros(len(found['boxes']), bool)
  for g in range(len(truth)):
    overlapping = np.flatnonzero((iou[g] >= MIN_IOU) & ~used)
    same = [c for c in overlapping if found['labels'][c] == labels[g]]
    kind = 'correct' if same else 'wrong_class' if len(overlapping) else 'missed'
    counts[kind] += 1
    if len(overlapping):
      used[(same or overlapping)[0]] = True
  for c in np.flatnonzero(~used):
    counts['extra_on_a_digit' if len(truth) and iou[:, c].max() >= MIN_IOU else 'on_background'] += 1


def main(workdir: str, num_scenes: int = 200) -> None:
  predictor = inference.load(workdir)
  for level in (0.0, 0.5):
    scenes = [make_scene(i, 'test', background_level=level) for i in range(num_scenes)]
    found = predictor.predict([(image * 255).round().astype(np.uint8)[..., None] for image, _, _ in scenes],
                              min_score=MIN_SCORE)
    counts = dict.fromkeys(('correct', 'wrong_class', 'missed', 'on_background', 'extra_on_a_digit'), 0)
    for (_, boxes, labels), detections in zip(scenes, found):
      count((boxes * IMAGE_SIZE).astype(np.float32), labels, detections, counts)
    print(f'background_level {level}: {sum(len(s[2]) for s in scenes)} digits, {counts}', flush=True)


if __name__ == '__main__':
  main(sys.argv[1], *map(int, sys.argv[2:3]))
