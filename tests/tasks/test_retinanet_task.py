"""RetinaNet through the detection task: the digit-scenes smoke run trains, evaluates (with the
bright evaluator), draws and predicts; the focal loss is finite and small for confident right
answers; and a file of another family is not taken for a whole RetinaNet."""

import jax
import jax.numpy as jnp
import numpy as np

from tests.helpers import load_config, metrics, predict_scene_and_check
from vision_jax.detection.losses import sigmoid_focal_loss
from vision_jax.detection.retinanet import is_torchvision_retinanet, retinanet_loss
from vision_jax.tasks import run


def test_digit_scenes_retinanet_smoke_trains_evaluates_draws_and_predicts(tmp_path):
  config = load_config('digit_scenes_retinanet')
  final = run(config, str(tmp_path))
  assert final['step'] == 4 and final['num_examples'] == 16 and final['bright_num_examples'] == 16
  train = metrics(str(tmp_path), 'train')
  assert {'classification_loss', 'box_loss', 'foreground'} <= set(train[0]) and train[0]['foreground'] > 0
  assert all(np.isfinite(r['loss']) for r in train)
  assert (tmp_path / 'plots' / 'predictions.png').stat().st_size > 1000
  predict_scene_and_check(config, tmp_path)


def test_focal_loss_weighs_easy_examples_down():
  logits = jnp.array([4.0, -4.0, 0.0, 0.0])
  targets = jnp.array([1.0, 0.0, 1.0, 0.0])
  loss = sigmoid_focal_loss(logits, targets)
  assert loss[0] < 1e-4 and loss[1] < 1e-3          # confident and right: almost nothing
  # at p = 0.5: 0.25 (alpha) or 0.75 times BCE log 2, times (1 - 0.5) ** 2
  np.testing.assert_allclose(loss[2:], [0.25 * 0.25 * np.log(2), 0.75 * 0.25 * np.log(2)], rtol=1e-6)


def test_loss_counts_foreground_and_ignores_padding():
  """Two anchors on one ground truth (IoU 1 and 0.5): both foreground; a padded box adds nothing."""
  anchors = jnp.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 20.0], [50.0, 50.0, 60.0, 60.0]])
  gt = jnp.array([[[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 0.0, 0.0]]])
  logits, deltas = jnp.zeros((1, 3, 2)), jnp.zeros((1, 3, 4))
  terms = retinanet_loss(logits, deltas, anchors, gt, jnp.array([[1, 0]]), jnp.array([[True, False]]))
  assert float(terms['foreground']) == 2
  assert np.isfinite(float(terms['loss']))
  grads = jax.grad(lambda d: retinanet_loss(logits, d, anchors, gt, jnp.array([[1, 0]]),
                                            jnp.array([[True, False]]))['loss'])(deltas)
  assert np.all(np.isfinite(grads)) and np.all(grads[0, 2] == 0)


def test_only_a_torchvision_retinanet_file_is_imported_whole():
  assert is_torchvision_retinanet({'head.classification_head.cls_logits.weight': np.zeros((9, 256, 3, 3))})
  assert not is_torchvision_retinanet({'rpn.head.cls_logits.weight': np.zeros((3, 256, 1, 1))})
