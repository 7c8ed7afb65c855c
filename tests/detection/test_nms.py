"""Jitted per-class NMS against a plain NumPy greedy NMS."""

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.detection.boxes import corners_to_center
from vision_jax.detection.nms import greedy_nms, per_class_nms
from vision_jax.detection.ssd import postprocess


def numpy_iou(a, b):
  tl, br = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
  inter = np.prod(np.maximum(br - tl, 0))
  union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
  return inter / union if union > 0 else 0.0


def numpy_nms(boxes, scores, score_threshold, iou_threshold, top_k):
  """The textbook loop: per class, visit by descending score, keep what no kept box covers."""
  detections = []
  for c in range(scores.shape[1]):
    order = [i for i in np.argsort(-scores[:, c], kind='stable') if scores[i, c] >= score_threshold][:top_k]
    kept = []
    for i in order:
      if all(numpy_iou(boxes[i], boxes[j]) <= iou_threshold for j in kept):
        kept.append(i)
    detections += [(scores[i, c], c, i) for i in kept]
  return sorted(detections, reverse=True)


def random_boxes(rng, n):
  centre, size = rng.uniform(0.2, 0.8, (n, 2)), rng.uniform(0.05, 0.4, (n, 2))
  return np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)


def test_matches_numpy_greedy_nms_on_random_clusters():
  rng = np.random.default_rng(0)
  boxes = random_boxes(rng, 60)
  scores = rng.uniform(size=(60, 3)).astype(np.float32)
  fn = jax.jit(lambda b, s: per_class_nms(b, s, 0.3, 0.45, 60, 40))
  out_boxes, out_scores, labels, valid = map(np.asarray, fn(boxes, scores))
  expected = numpy_nms(boxes, scores, 0.3, 0.45, 60)[:40]
  assert int(valid.sum()) == len(expected)
  np.testing.assert_allclose(out_scores[valid], [e[0] for e in expected], rtol=1e-6)
  np.testing.assert_array_equal(labels[valid], [e[1] for e in expected])
  np.testing.assert_allclose(out_boxes[valid], boxes[[e[2] for e in expected]])
  assert not out_scores[~valid].any()


def test_postprocess_has_fixed_shapes_and_recovers_a_confident_box():
  priors = corners_to_center(jnp.asarray(random_boxes(np.random.default_rng(1), 30)))
  logits = jnp.zeros((2, 30, 4)).at[:, :, 0].set(5.0).at[0, 7, 2].set(12.0)
  out = jax.jit(postprocess, static_argnames=('max_detections',))(jnp.zeros((2, 30, 4)), logits, priors,
                                                                   max_detections=10)
  assert out['boxes'].shape == (2, 10, 4) and out['valid'].shape == (2, 10)
  assert int(out['labels'][0, 0]) == 1 and float(out['scores'][0, 0]) > 0.99
  np.testing.assert_allclose(out['boxes'][0, 0], np.clip(np.asarray(random_boxes(np.random.default_rng(1), 30))[7], 0, 1),
                             atol=1e-5)


def test_more_detections_than_candidates_pads_with_absent_ones():
  rng = np.random.default_rng(2)
  boxes, scores = random_boxes(rng, 5), rng.uniform(0.5, 1.0, (5, 2)).astype(np.float32)
  out_boxes, out_scores, labels, valid = map(np.asarray, per_class_nms(boxes, scores, 0.1, 0.99, 5, 16))
  assert out_boxes.shape == (16, 4) and int(valid.sum()) == 10 and not out_scores[10:].any()
  np.testing.assert_allclose(out_scores[:10], np.sort(scores.reshape(-1))[::-1], rtol=1e-6)


def test_vmapped_greedy_nms_runs_one_loop_of_slices_with_the_per_image_results():
  """Under vmap the NMS loop keeps the batch as a leading dim (no gathers in its body, which
  onnxruntime cannot run inside a Loop) and gives each image's own keep mask."""
  rng = np.random.default_rng(3)
  boxes = np.stack([random_boxes(rng, 20) for _ in range(3)])
  scores = -np.sort(-rng.uniform(size=(3, 20)).astype(np.float32), axis=1)
  batched = jax.vmap(lambda b, s: greedy_nms(b, s, 0.4))
  np.testing.assert_array_equal(np.asarray(batched(boxes, scores)),
                                [np.asarray(greedy_nms(b, s, 0.4)) for b, s in zip(boxes, scores)])
  loop = [e for e in jax.make_jaxpr(batched)(boxes, scores).jaxpr.eqns if e.primitive.name == 'scan'][0]   # fori_loop
  body = str(loop.params['jaxpr'])
  assert 'dynamic_slice[' in body and 'gather[' not in body and 'scatter[' not in body
