"""R-CNN building blocks against torchvision's definitions: anchors (AnchorGenerator), the box coder
(BoxCoder), RoIAlign (a loop port of torchvision's CPU kernel, aligned=True, sampling ratio 2) and
the FPN level mapper."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.detection import anchors, coders
from vision_jax.detection.roi_align import fpn_levels, roi_align


def test_base_anchors_match_torchvisions_cell_anchors():
  # torchvision's AnchorGenerator cell anchors for size 32, ratios (0.5, 1, 2), as (x1, y1, x2, y2):
  # [-23, -11, 23, 11], [-16, -16, 16, 16], [-11, -23, 11, 23]; ours are (y1, x1, y2, x2).
  np.testing.assert_array_equal(anchors.base_anchors((32,)), [[-11, -23, 11, 23], [-16, -16, 16, 16],
                                                              [-23, -11, 23, 11]])


def test_level_anchors_shift_over_the_grid_in_the_heads_order():
  levels = anchors.level_anchors((64, 96), [(16, 24), (8, 12)], sizes=((32,), (64,)))
  assert [len(a) for a in levels] == [16 * 24 * 3, 8 * 12 * 3]
  np.testing.assert_array_equal(levels[0][3 * 1 + 1], [-16, 4 - 16, 16, 4 + 16])   # row 0, column 1, ratio 1
  np.testing.assert_array_equal(levels[1][3 * 12 + 1], [8 - 32, -32, 8 + 32, 32])  # row 1, column 0


def test_box_coder_known_deltas_roundtrip_and_clamp():
  reference = jnp.array([[0.0, 0.0, 10.0, 10.0]])
  box = jnp.array([[0.0, 0.0, 20.0, 20.0]])
  deltas = coders.encode_rcnn(box, reference, coders.BOX_HEAD_WEIGHTS)
  np.testing.assert_allclose(deltas, [[5.0, 5.0, 5 * math.log(2), 5 * math.log(2)]], rtol=1e-6)
  np.testing.assert_allclose(coders.decode_rcnn(deltas, reference, coders.BOX_HEAD_WEIGHTS), box, rtol=1e-5)
  huge = coders.decode_rcnn(jnp.array([[0.0, 0.0, 50.0, 50.0]]), reference)
  np.testing.assert_allclose(huge[0, 3] - huge[0, 1], 10 * 1000 / 16, rtol=1e-4)  # dw clamped at log(1000/16)


def torchvision_roi_align(features, box, output_size, scale, ratio):
  """torchvision's roi_align_forward_kernel_impl (aligned=True) for one RoI, written as its loops.
  features (H, W, C); box (y1, x1, y2, x2)."""
  height, width, _ = features.shape
  y1, x1, y2, x2 = [v * scale - 0.5 for v in box]
  bin_h, bin_w = (y2 - y1) / output_size, (x2 - x1) / output_size
  out = np.zeros((output_size, output_size, features.shape[-1]))

  def bilinear(y, x):
    if y < -1.0 or y > height or x < -1.0 or x > width:
      return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
      y_high = y_low = height - 1
      y = float(y_low)
    else:
      y_high = y_low + 1
    if x_low >= width - 1:
      x_high = x_low = width - 1
      x = float(x_low)
    else:
      x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    return ((1 - ly) * (1 - lx) * features[y_low, x_low] + (1 - ly) * lx * features[y_low, x_high]
            + ly * (1 - lx) * features[y_high, x_low] + ly * lx * features[y_high, x_high])

  for ph in range(output_size):
    for pw in range(output_size):
      total = 0.0
      for iy in range(ratio):
        y = y1 + ph * bin_h + (iy + 0.5) * bin_h / ratio
        for ix in range(ratio):
          x = x1 + pw * bin_w + (ix + 0.5) * bin_w / ratio
          total = total + bilinear(y, x)
      out[ph, pw] = total / (ratio * ratio)
  return out


def test_roi_align_matches_torchvisions_kernel_at_borders_and_sub_pixel():
  rng = np.random.default_rng(0)
  features = rng.normal(size=(2, 12, 10, 3)).astype(np.float32)
  boxes = np.array([[[4.0, 6.0, 30.0, 20.0], [0.0, 0.0, 48.0, 40.0], [-6.0, -3.0, 5.0, 9.0]],
                    [[46.0, 38.0, 48.0, 40.0], [10.2, 11.7, 10.9, 12.1], [20.0, 5.0, 60.0, 50.0]]], np.float32)
  got = np.asarray(roi_align(jnp.asarray(features), jnp.asarray(boxes), output_size=7, spatial_scale=0.25,
                             sampling_ratio=2))
  for b in range(2):
    for k in range(3):
      np.testing.assert_allclose(got[b, k], torchvision_roi_align(features[b], boxes[b, k], 7, 0.25, 2),
                                 atol=1e-5, err_msg=f'image {b}, box {k}')


def test_roi_align_is_differentiable_in_the_features():
  features = jnp.ones((1, 8, 8, 2))
  rois = jnp.array([[[2.0, 2.0, 20.0, 20.0]]])
  grad = jax.grad(lambda f: roi_align(f, rois, 7, 0.25).sum())(features)
  assert grad.shape == features.shape and float(grad.sum()) > 0 and np.isfinite(np.asarray(grad)).all()


def test_fpn_levels_follow_the_canonical_224_at_level_4():
  rois = jnp.array([[0, 0, 224, 224], [0, 0, 112, 112], [0, 0, 448, 448], [0, 0, 10, 10], [0, 0, 2000, 2000.0]])
  np.testing.assert_array_equal(fpn_levels(rois), [4, 3, 5, 2, 5])


def test_anchor_labels_follow_the_iou_thresholds_and_keep_each_truths_best_anchor():
  from vision_jax.detection.matching import IGNORED, NEGATIVE, POSITIVE, label_anchors
  gt = jnp.array([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0], [0.0, 0.0, 99.0, 99.0]])
  anchors_ = jnp.array([[0.0, 0.0, 10.0, 11.0],      # IoU 0.91 with gt 0: positive
                        [0.0, 0.0, 10.0, 20.0],      # 0.5: ignored
                        [30.0, 30.0, 40.0, 40.0],    # 0: negative
                        [50.0, 50.0, 60.0, 70.0],    # 0.5 with gt 1, its best: positive
                        [52.0, 50.0, 62.0, 70.0]])   # 0.36 with gt 1: ignored
  labels, matched = label_anchors(anchors_, gt, jnp.array([True, True, False]))  # gt 2 is padding
  np.testing.assert_array_equal(labels, [POSITIVE, IGNORED, NEGATIVE, POSITIVE, IGNORED])
  assert int(matched[0]) == 0 and int(matched[3]) == 1
  none, _ = label_anchors(anchors_, gt, jnp.zeros(3, bool))
  np.testing.assert_array_equal(none, [NEGATIVE] * 5)  # an image without boxes: all background


def test_balanced_sampling_caps_positives_and_depends_only_on_the_key():
  from vision_jax.detection.matching import sample_balanced
  labels = jnp.asarray(np.r_[np.ones(200), np.zeros(1000), -np.ones(50)].astype(np.int32))
  pos, neg = sample_balanced(jax.random.PRNGKey(0), labels, 256, 0.5)
  assert int(pos.sum()) == 128 and int(neg.sum()) == 128 and not bool((pos & (labels != 1)).any())
  few = jnp.asarray(np.r_[np.ones(10), np.zeros(1000)].astype(np.int32))
  pos, neg = sample_balanced(jax.random.PRNGKey(0), few, 256, 0.5)
  assert int(pos.sum()) == 10 and int(neg.sum()) == 246
  again, _ = sample_balanced(jax.random.PRNGKey(0), labels, 256, 0.5)
  other, _ = sample_balanced(jax.random.PRNGKey(1), labels, 256, 0.5)
  np.testing.assert_array_equal(sample_balanced(jax.random.PRNGKey(0), labels, 256, 0.5)[0], again)
  assert not np.array_equal(again, other)


def test_proposals_are_clipped_suppressed_per_level_and_padded():
  from vision_jax.detection.faster_rcnn import propose
  level0 = jnp.array([[0.0, 0.0, 20.0, 20.0], [1.0, 1.0, 21.0, 21.0], [30.0, 30.0, 50.0, 90.0], [5.0, 5.0, 5.0, 9.0]])
  level1 = jnp.array([[0.0, 0.0, 20.0, 20.0]])            # the same box on another level survives
  logits = [jnp.array([3.0, 2.0, 1.0, 4.0]), jnp.array([0.5])]
  deltas = [jnp.zeros((4, 4)), jnp.zeros((1, 4))]
  boxes, scores = propose(logits, deltas, [level0, level1], jnp.array([40, 60]), pre_nms_top_n=3,
                          post_nms_top_n=6)
  assert boxes.shape == (4, 4) and scores.shape == (4,)  # 3 + 1 candidates, fewer than post_nms_top_n
  sigmoid = lambda x: 1 / (1 + math.exp(-x))
  # Top 3 of level 0 by logit: the empty box (4.0, dropped), box 0 (3.0), box 1 (2.0, suppressed at IoU 0.82).
  np.testing.assert_allclose(scores, [sigmoid(3.0), sigmoid(0.5), 0, 0], rtol=1e-6)
  np.testing.assert_allclose(boxes, [[0, 0, 20, 20], [0, 0, 20, 20], [0, 0, 0, 0], [0, 0, 0, 0]])
  clipped, _ = propose([jnp.array([1.0])], [jnp.zeros((1, 4))], [jnp.array([[30.0, 30.0, 50.0, 90.0]])],
                       jnp.array([40, 60]))
  np.testing.assert_allclose(clipped, [[30, 30, 40, 60]])


def test_rpn_loss_is_torchvisions_formula_when_every_labelled_anchor_is_sampled():
  from vision_jax.detection.faster_rcnn import rpn_loss
  from vision_jax.detection.matching import IGNORED, label_anchors
  rng = np.random.default_rng(1)
  anchor_set = anchors.level_anchors((64, 64), [(8, 8)], sizes=((16,),))[0]        # 192 anchors
  gt = np.array([[[8.0, 8.0, 30.0, 24.0], [40.0, 30.0, 60.0, 62.0]], [[0.0, 0.0, 0.0, 0.0]] * 2], np.float32)
  valid = np.array([[True, True], [False, False]])
  logits = rng.normal(size=(2, 192)).astype(np.float32)
  deltas = rng.normal(scale=0.3, size=(2, 192, 4)).astype(np.float32)
  losses = rpn_loss(jax.random.PRNGKey(0), jnp.asarray(logits), jnp.asarray(deltas), jnp.asarray(anchor_set),
                    jnp.asarray(gt), jnp.asarray(valid), batch_size_per_image=1000, positive_fraction=1.0)
  bce, box, count = 0.0, 0.0, 0
  for b in range(2):
    labels, matched = (np.asarray(x) for x in label_anchors(jnp.asarray(anchor_set), jnp.asarray(gt[b]),
                                                            jnp.asarray(valid[b])))
    targets = np.asarray(coders.encode_rcnn(jnp.asarray(gt[b][matched]), jnp.asarray(anchor_set)))
    for a in np.flatnonzero(labels != IGNORED):
      p = 1 / (1 + np.exp(-logits[b, a]))
      bce -= np.log(p) if labels[a] == 1 else np.log(1 - p)
      count += 1
      if labels[a] == 1:
        d = np.abs(deltas[b, a] - targets[a])
        box += np.sum(np.where(d < 1 / 9, 0.5 * d * d * 9, d - 0.5 / 9))
  assert count > 192  # both images' labelled anchors, the second image all negatives
  np.testing.assert_allclose(losses['rpn_objectness_loss'], bce / count, rtol=1e-5)
  np.testing.assert_allclose(losses['rpn_box_loss'], box / count, rtol=1e-5)
