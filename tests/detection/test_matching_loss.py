"""Box ops, matching and the MultiBox loss on hand-made cases."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vision_jax.detection import boxes as B
from vision_jax.detection.coders import decode_ssd, encode_ssd
from vision_jax.detection.ssd import hard_negatives, multibox_loss
from vision_jax.detection.matching import batch_match, match


def test_iou_of_known_boxes():
  a = jnp.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])
  b = jnp.array([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75], [0.5, 0.5, 1.0, 1.0]])
  np.testing.assert_allclose(B.pairwise_iou(a, b), [[1.0, 1 / 7, 0.0], [0.0, 0.0, 0.0]], rtol=1e-6)


def test_encode_decode_round_trip_and_center_conversions():
  rng = np.random.default_rng(0)
  a, b = rng.uniform(size=(2, 50, 2))
  corners = np.concatenate([np.minimum(a, b), np.maximum(a, b) + 0.01], 1).astype(np.float32)
  priors = B.corners_to_center(jnp.asarray(corners[::-1].copy()))
  np.testing.assert_allclose(B.center_to_corners(B.corners_to_center(corners)), corners, atol=1e-6)
  np.testing.assert_allclose(decode_ssd(encode_ssd(corners, priors), priors), corners, atol=1e-5)
  # Identical box and prior encode to zero offsets.
  np.testing.assert_allclose(encode_ssd(corners, B.corners_to_center(corners)), 0.0, atol=1e-5)


def test_decode_clamps_wild_size_offsets_as_torchvision():
  # issue #15 item 13: exp() of a wild size offset overflowed to inf.
  prior = jnp.array([[0.5, 0.5, 0.1, 0.2]])
  boxes = decode_ssd(jnp.array([[0.0, 0.0, 1e4, 1e4]]), prior)
  np.testing.assert_allclose(B.corners_to_center(boxes)[0, 2:], [0.1 * 1000 / 16, 0.2 * 1000 / 16], rtol=1e-5)
  # Ordinary offsets are untouched: log 3 / 0.2 stays below the clamp.
  np.testing.assert_allclose(B.corners_to_center(decode_ssd(jnp.array([[0.0, 0.0, np.log(3) / 0.2, 0.0]]), prior))[0, 2:],
                             [0.3, 0.2], rtol=1e-5)


def test_match_forces_best_prior_and_thresholds_the_rest():
  priors = B.corners_to_center(jnp.array([
      [0.0, 0.0, 0.5, 0.5],     # IoU 1 with gt0
      [0.0, 0.0, 0.45, 0.5],    # IoU 0.9 with gt0
      [0.5, 0.5, 1.0, 1.0],     # IoU 0.04 with gt1: background
      [0.6, 0.6, 1.0, 1.0],     # IoU 0.0625 with gt1, but its best prior: forced
  ]))
  gt = jnp.array([[0.0, 0.0, 0.5, 0.5], [0.7, 0.7, 0.8, 0.8], [0.0, 0.0, 1.0, 1.0]])
  labels = jnp.array([3, 7, 5])
  valid = jnp.array([True, True, False])  # the third row is padding: never matched
  loc, cls = match(gt, labels, valid, priors, 0.5)
  np.testing.assert_array_equal(cls, [4, 4, 0, 8])
  np.testing.assert_allclose(loc[0], 0.0, atol=1e-5)
  np.testing.assert_allclose(decode_ssd(loc[3], priors[3]), gt[1], atol=1e-5)
  np.testing.assert_array_equal(loc[2], 0.0)
  # An image without boxes: all background, finite targets.
  loc, cls = batch_match(gt[None], labels[None], jnp.zeros((1, 3), bool), priors, 0.5)
  assert int(cls.sum()) == 0 and bool(jnp.isfinite(loc).all())


def test_hard_negative_mining_keeps_three_hardest_per_positive():
  positive = jnp.array([[True, False, False, False, False, False, False]])
  background_loss = jnp.array([[9.0, 0.1, 5.0, 0.2, 4.0, 3.0, 0.3]])
  np.testing.assert_array_equal(hard_negatives(background_loss, positive, 3.0),
                                [[False, False, True, False, True, True, False]])


def test_multibox_loss_by_hand():
  loc_pred = jnp.array([[[0.5, 0.0, 0.0, 2.0], [9.0, 9.0, 9.0, 9.0], [0.0] * 4, [0.0] * 4, [0.0] * 4]])
  loc_targets = jnp.zeros((1, 5, 4))
  cls_targets = jnp.array([[2, 0, 0, 0, 0]])
  logits = jnp.array([[[0.0, 0.0, 1.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.0]]])
  out = multibox_loss(loc_pred, logits, loc_targets, cls_targets)
  ce = np.asarray(optax.softmax_cross_entropy_with_integer_labels(logits, jnp.array([[2, 0, 0, 0, 0]])))[0]
  # One positive: loc = smooth_l1(0.5) + smooth_l1(2) = 0.125 + 1.5; negatives: the 3 hardest of 4.
  hardest = np.sort(ce[1:])[::-1][:3].sum()
  np.testing.assert_allclose(out['loc_loss'], 1.625, rtol=1e-6)
  np.testing.assert_allclose(out['cls_loss'], ce[0] + hardest, rtol=1e-6)
  np.testing.assert_allclose(out['loss'], 1.625 + ce[0] + hardest, rtol=1e-6)


def test_loss_without_positives_is_finite_and_zero_for_perfect_background():
  logits = jnp.zeros((2, 6, 3)).at[..., 0].set(20.0)
  out = jax.jit(multibox_loss)(jnp.zeros((2, 6, 4)), logits, jnp.zeros((2, 6, 4)), jnp.zeros((2, 6), jnp.int32))
  assert float(out['loss']) == 0.0 and int(out['num_positive']) == 0
