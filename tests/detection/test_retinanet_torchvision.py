"""RetinaNet against torchvision output for output: torchvision's retinanet_resnet50_fpn built with
random weights (nothing downloaded), its state_dict imported through config.init_from's importer,
and on the same preprocessed photos (skimage chelsea and astronaut) the head outputs, the final
detections and the training losses compared."""

import jax
import ml_collections
import numpy as np
import pytest

torch = pytest.importorskip('torch')
torchvision = pytest.importorskip('torchvision')

from vision_jax.detection.retinanet import RetinaNet, build, import_torchvision  # noqa: E402
from tests.detection.test_faster_rcnn_torchvision import (HW, MEAN, STD, imported, photos, relative_error,  # noqa: E402
                                                          transformed_photos)

DETECTIONS = 100  # per image (torchvision's default: 300)
CONFIG = ml_collections.ConfigDict({
    'model': {'name': 'retinanet'},
    'matching': {'positive_iou': 0.5, 'negative_iou': 0.4},
    'losses': {'focal_alpha': 0.25, 'focal_gamma': 2.0},
    'nms': {'score_threshold': 0.05, 'iou_threshold': 0.5, 'pre_nms_top_k': 1000, 'max_detections': DETECTIONS}})
# Ground truth in input pixels [x1, y1, x2, y2] (torchvision's order) and COCO labels, two per photo.
TARGETS = [([[60.0, 20.0, 250.0, 200.0], [10.0, 120.0, 70.0, 220.0]], [17, 1]),
           ([[90.0, 10.0, 230.0, 150.0], [30.0, 100.0, 300.0, 224.0]], [1, 62])]


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
  """(torchvision model in eval mode, our variables imported from its saved state_dict, our model)."""
  torch.manual_seed(0)
  tv = torchvision.models.detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None, min_size=HW[0],
                                                           max_size=HW[1], detections_per_img=DETECTIONS)
  with torch.no_grad():
    # The prior's bias (p = 0.01) leaves no score above 0.05: spread the scores so detections exist.
    tv.head.classification_head.cls_logits.bias.fill_(-3.0)
    tv.head.classification_head.cls_logits.weight.normal_(0, 0.01)
    for module in tv.backbone.body.modules():  # non-trivial statistics exercise the BN import
      if isinstance(module, torch.nn.BatchNorm2d):
        module.running_mean.uniform_(-0.1, 0.1)
        module.running_var.uniform_(0.5, 1.5)
  tv.eval()
  model = RetinaNet(num_classes=91)
  return tv, imported(tv, model, import_torchvision, tmp_path_factory.mktemp('tv')), model


@pytest.fixture(scope='module')
def both_outputs(pair):
  tv, variables, model = pair
  with torch.no_grad():
    batch, image_list, normalised = transformed_photos(tv)
    head = tv.head(list(tv.backbone(image_list.tensors).values()))
    detections = tv(batch)
  ours = jax.device_get(jax.jit(lambda v, x: model.apply(v, x))(variables, normalised))
  return {k: v.numpy() for k, v in head.items()}, detections, ours


def test_head_outputs_match(both_outputs):
  theirs, _, ours = both_outputs
  assert relative_error(np.concatenate(ours['cls_logits'], 1), theirs['cls_logits']) <= 1e-4
  assert relative_error(np.concatenate(ours['bbox_regression'], 1), theirs['bbox_regression']) <= 1e-4


def test_detections_match_one_to_one(both_outputs):
  """Each of torchvision's detections is ours with the same label, score within 1e-4 and box within
  0.03 px, in the same order except where two scores are within 1e-4 of each other: a random head
  scores thousands of anchors a few 1e-6 apart, below float32's rounding through ResNet-50."""
  _, theirs, ours = both_outputs
  detections = jax.device_get(build(CONFIG, 91, (*HW, 3)).postprocess(ours))
  for i, expected in enumerate(theirs):
    valid = detections['valid'][i]
    labels, scores = detections['labels'][i][valid], detections['scores'][i][valid]
    boxes = detections['boxes'][i][valid][:, [1, 0, 3, 2]]
    their_labels, their_scores, their_boxes = (expected[k].numpy() for k in ('labels', 'scores', 'boxes'))
    assert len(scores) == len(their_scores) == DETECTIONS
    distance = np.abs(boxes[:, None] - their_boxes[None]).max(-1)
    distance[labels[:, None] != their_labels[None]] = np.inf
    match = distance.argmin(1)                      # ours k is their match[k]
    assert sorted(match) == list(range(DETECTIONS))
    assert distance[np.arange(DETECTIONS), match].max() <= 0.03
    np.testing.assert_allclose(scores, their_scores[match], atol=1e-4)
    moved = match != np.arange(DETECTIONS)
    assert np.all(np.abs(their_scores[match][moved] - their_scores[moved]) <= 1e-4)
    assert moved.mean() <= 0.25


def test_training_losses_match(pair):
  """Focal and L1 losses on the same ground truth, BatchNorm on batch statistics on both sides."""
  tv, variables, model = pair
  images = photos()
  tv.train()
  try:
    with torch.no_grad():
      targets = [{'boxes': torch.tensor(b), 'labels': torch.tensor(l)} for b, l in TARGETS]
      theirs = tv(list(torch.from_numpy(images).permute(0, 3, 1, 2)), targets)
  finally:
    tv.eval()
  gt_boxes = np.array([np.asarray(b)[:, [1, 0, 3, 2]] / np.array(HW * 2) for b, _ in TARGETS], np.float32)
  batch = {'image': ((images - MEAN) / STD).astype(np.float32), 'boxes': gt_boxes,
           'labels': np.array([l for _, l in TARGETS], np.int32), 'box_valid': np.ones((2, 2), bool)}
  detector = build(CONFIG, 91, (*HW, 3))
  outputs, _ = model.apply(variables, batch['image'], train=True, mutable=['batch_stats'])
  _, terms = detector.loss(outputs, batch, jax.random.PRNGKey(0))
  np.testing.assert_allclose(terms['classification_loss'], theirs['classification'].item(), rtol=1e-4)
  np.testing.assert_allclose(terms['box_loss'], theirs['bbox_regression'].item(), rtol=1e-4)
