"""YOLOv1's loss against a loop-by-loop transcription of the paper's eq. 3, its cell assignment,
and its decoding (raw grid outputs <-> boxes)."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import common
from vision_jax.detection.yolov1 import cell_targets, class_confidences, decode_cells, encode_cells, yolov1_loss
from vision_jax.detection.families import build_detector


def iou(a, b):
  """One pair of [ymin, xmin, ymax, xmax] boxes."""
  h = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
  w = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
  union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - h * w
  return h * w / union if union > 0 else 0.0


def paper_loss(raw, conf, probs, gt_boxes, gt_labels, coord=5.0, noobj=0.5):
  """Eq. 3 for one image, cell by cell and predictor by predictor (the first box per cell wins)."""
  s, _, b, _ = raw.shape
  owner = {}
  for g, box in enumerate(gt_boxes):
    cell = (min(int((box[0] + box[2]) / 2 * s), s - 1), min(int((box[1] + box[3]) / 2 * s), s - 1))
    owner.setdefault(cell, g)
  total = 0.0
  for i in range(s):
    for j in range(s):
      g = owner.get((i, j))
      boxes = []
      for k in range(b):
        x, y, sw, sh = raw[i, j, k]
        cx, cy = (j + x) / s, (i + y) / s
        boxes.append([cy - sh * sh / 2, cx - sw * sw / 2, cy + sh * sh / 2, cx + sw * sw / 2])
      if g is None:
        total += noobj * sum(conf[i, j, k] ** 2 for k in range(b))
        continue
      t = gt_boxes[g]
      ious = [iou(p, t) for p in boxes]
      r = int(np.argmax(ious))
      tcx, tcy = (t[1] + t[3]) / 2, (t[0] + t[2]) / 2
      tx, ty = tcx * s - j, tcy * s - i
      x, y, sw, sh = raw[i, j, r]
      total += coord * ((x - tx) ** 2 + (y - ty) ** 2)
      total += coord * ((sw - np.sqrt(t[3] - t[1])) ** 2 + (sh - np.sqrt(t[2] - t[0])) ** 2)
      total += (conf[i, j, r] - ious[r]) ** 2
      total += noobj * sum(conf[i, j, k] ** 2 for k in range(b) if k != r)
      total += sum((probs[i, j, c] - (c == gt_labels[g])) ** 2 for c in range(probs.shape[-1]))
  return total


def random_case(seed, s=4, b=2, c=3, g=5):
  rng = np.random.default_rng(seed)
  raw = rng.uniform(0.1, 0.9, (2, s, s, b, 4)).astype(np.float32)
  conf = rng.uniform(-0.2, 1.0, (2, s, s, b)).astype(np.float32)
  probs = rng.uniform(0, 1, (2, s, s, c)).astype(np.float32)
  centre = rng.uniform(0.1, 0.9, (2, g, 2))
  size = rng.uniform(0.05, 0.5, (2, g, 2))
  boxes = np.concatenate([centre - size / 2, centre + size / 2], -1).clip(0, 1).astype(np.float32)
  boxes[0, 1] = boxes[0, 0] * 0.9 + 0.01   # a second box in (almost surely) the same cell
  labels = rng.integers(0, c, (2, g)).astype(np.int32)
  valid = np.array([[True] * g, [True, True, False, True, False]])
  return raw, conf, probs, boxes, labels, valid


def test_loss_matches_the_paper_equation_written_as_loops():
  raw, conf, probs, boxes, labels, valid = random_case(0)
  terms = jax.jit(yolov1_loss)({'boxes': raw, 'confidence': conf, 'scores': probs}, boxes, labels, valid)
  expected = np.mean([paper_loss(raw[n], conf[n], probs[n], boxes[n][valid[n]], labels[n][valid[n]])
                      for n in range(2)])
  np.testing.assert_allclose(float(terms['loss']), expected, rtol=1e-5)
  assert float(terms['objects']) == np.mean([len(set(
      (min(int((bx[0] + bx[2]) * 2), 3), min(int((bx[1] + bx[3]) * 2), 3)) for bx in boxes[n][valid[n]]))
      for n in range(2)])


def test_cell_targets_keep_the_first_box_of_a_cell_and_encode_decode_round_trip():
  boxes = jnp.array([[0.1, 0.1, 0.3, 0.3], [0.15, 0.12, 0.2, 0.25], [0.5, 0.6, 0.9, 0.8]])
  t = cell_targets(boxes, jnp.array([4, 7, 2]), jnp.array([True, True, True]), 4)
  assert int(t['object'].sum()) == 2 and int(t['labels'][0, 0]) == 4 and int(t['labels'][2, 2]) == 2
  raw = encode_cells(t['boxes'])[:, :, None]
  np.testing.assert_allclose(decode_cells(raw)[0, 0, 0], boxes[0], atol=1e-6)
  np.testing.assert_allclose(decode_cells(raw)[2, 2, 0], boxes[2], atol=1e-6)


def test_detector_scores_are_confidence_times_class_probability_and_boxes_in_pixels():
  config = common.yolov1_config('3x8 M 3x8')
  config.model.update(grid_size=2, hidden=16)
  detector = build_detector(config, 3, (64, 64, 3))
  images = jnp.zeros((1, 64, 64, 3))
  variables = detector.model.init(jax.random.PRNGKey(0), images)
  outputs = detector.model.apply(variables, images)
  assert outputs['boxes'].shape == (1, 2, 2, 2, 4) and outputs['scores'].shape == (1, 2, 2, 3)
  boxes, scores = class_confidences(outputs)
  np.testing.assert_allclose(scores[0, 3], outputs['confidence'][0, 0, 1, 1] * outputs['scores'][0, 0, 1], rtol=1e-6)
  detections = detector.postprocess(outputs)
  top = int(jnp.argmax(scores[0].max(-1)))
  if float(scores[0].max()) > config.nms.score_threshold:
    np.testing.assert_allclose(detections['boxes'][0, 0], boxes[0, top] * 64, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(detections['scores'][0, 0], scores[0].max(), rtol=1e-6)
