"""YOLOv8 against Ultralytics output for output: their yolov8n.yaml model built with random weights
(nothing downloaded), its state_dict imported, and on the same input (a real photo) the raw head
outputs (DFL logits and class logits) and the decoded boxes and scores compared; and our CIoU and
its gradient against their bbox_iou(CIoU=True). Ultralytics (AGPL) is a test-only reference: none
of its code is copied."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip('torch')
pytest.importorskip('ultralytics')
from skimage import data  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402

from vision_jax.detection.yolo import (STRIDES, YOLOv8, anchor_points, convert_yolov8, decode_dfl,  # noqa: E402
                                       is_ultralytics_detector, level_strides)

HW = (128, 160)


@pytest.fixture(scope='module')
def outputs():
  torch.manual_seed(0)
  theirs = DetectionModel('yolov8n.yaml', nc=80, verbose=False)
  with torch.no_grad():  # non-trivial BatchNorm statistics exercise their import
    for module in theirs.modules():
      if isinstance(module, torch.nn.BatchNorm2d):
        module.running_mean.uniform_(-0.2, 0.2)
        module.running_var.uniform_(0.5, 1.5)
  theirs.eval()
  state = {k: v.numpy() for k, v in theirs.state_dict().items()}
  assert is_ultralytics_detector(state)
  model = YOLOv8(num_classes=80, size='n')
  template = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, *HW, 3))))
  variables = convert_yolov8(state, template, 'yolov8n state_dict')
  image = np.asarray(jax.image.resize(data.astronaut() / 255.0, (*HW, 3), 'bilinear'), np.float32)[None]
  with torch.no_grad():
    decoded, raw = theirs(torch.from_numpy(image.copy()).permute(0, 3, 1, 2))
  ours = jax.jit(model.apply)(variables, jnp.asarray(image))
  return ({'decoded': decoded.numpy(), 'boxes': raw['boxes'].numpy(), 'scores': raw['scores'].numpy()},
          jax.device_get(ours))


def relative_error(ours, theirs):
  return float(np.max(np.abs(np.asarray(ours) - theirs)) / max(np.max(np.abs(theirs)), 1e-12))


def test_raw_head_outputs_match(outputs):
  theirs, ours = outputs
  assert ours['boxes'].shape == theirs['boxes'].transpose(0, 2, 1).shape
  assert relative_error(ours['boxes'], theirs['boxes'].transpose(0, 2, 1)) <= 1e-4
  assert relative_error(ours['scores'], theirs['scores'].transpose(0, 2, 1)) <= 1e-4


def test_decoded_boxes_and_scores_match(outputs):
  theirs, ours = outputs
  grids = [(HW[0] // s, HW[1] // s) for s in STRIDES]
  points, strides = anchor_points(grids, STRIDES)
  boxes = np.asarray(decode_dfl(jnp.asarray(ours['boxes']), jnp.asarray(points), jnp.asarray(strides)))
  cx, cy, w, h = theirs['decoded'][0, :4]
  expected = np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)
  np.testing.assert_allclose(boxes[0], expected, atol=1e-3)
  np.testing.assert_allclose(jax.nn.sigmoid(ours['scores'][0]), theirs['decoded'][0, 4:].T, atol=1e-5)


def test_nms_detections_match_ultralytics_validation_nms(outputs):
  """Their validator's NMS (multi-label, class-aware, IoU 0.7, 300 per image) and ours, at a
  confidence threshold that leaves about 400 candidates of the random model."""
  from ultralytics.utils.nms import non_max_suppression
  from configs import common
  from vision_jax.detection.families import build_detector
  theirs, ours = outputs
  threshold = float(np.sort(theirs['decoded'][0, 4:].reshape(-1))[-400])
  kept = non_max_suppression(torch.from_numpy(theirs['decoded']), threshold, 0.7, multi_label=True, max_det=300)[0].numpy()
  config = common.yolo_config('n')
  config.nms.score_threshold = threshold + 1e-9
  detections = build_detector(config, 80, (*HW, 3)).postprocess({k: jnp.asarray(ours[k]) for k in ('boxes', 'scores')})
  valid = np.asarray(detections['valid'][0])
  assert int(valid.sum()) == len(kept) > 50
  np.testing.assert_allclose(np.asarray(detections['scores'][0])[valid], kept[:, 4], rtol=1e-5)
  np.testing.assert_array_equal(np.asarray(detections['labels'][0])[valid], kept[:, 5].astype(int))
  expected = np.clip(kept[:, [1, 0, 3, 2]], 0, np.array(HW * 2))
  np.testing.assert_allclose(np.asarray(detections['boxes'][0])[valid], expected, atol=1e-3)


@pytest.mark.parametrize('p2', [False, True])
def test_p2_variant_matches_yolov8_p2_yaml(p2):
  """yolov8-p2.yaml (a stride-4 level) imports and gives their raw outputs; the plain model has 3 levels."""
  torch.manual_seed(1)
  theirs = DetectionModel('yolov8n-p2.yaml' if p2 else 'yolov8n.yaml', nc=10, verbose=False).eval()
  model = YOLOv8(num_classes=10, size='n', p2=p2)
  hw = (64, 96)
  template = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, *hw, 3))))
  variables = convert_yolov8({k: v.numpy() for k, v in theirs.state_dict().items()}, template, 'state_dict')
  image = np.random.default_rng(0).uniform(size=(1, *hw, 3)).astype(np.float32)
  with torch.no_grad():
    _, raw = theirs(torch.from_numpy(image).permute(0, 3, 1, 2))
  ours = model.apply(variables, jnp.asarray(image))
  assert ours['scores'].shape[1] == sum((hw[0] // s) * (hw[1] // s) for s in level_strides(p2))
  assert relative_error(ours['boxes'], raw['boxes'].numpy().transpose(0, 2, 1)) <= 1e-4
  assert relative_error(ours['scores'], raw['scores'].numpy().transpose(0, 2, 1)) <= 1e-4


def test_complete_iou_matches_ultralytics_bbox_iou_and_its_gradient():
  from ultralytics.utils.metrics import bbox_iou
  from vision_jax.detection.losses import complete_iou
  rng = np.random.default_rng(0)
  corners = rng.uniform(0, 50, (2, 64, 2))
  sizes = rng.uniform(0.5, 30, (2, 64, 2))
  a, b = (np.concatenate([c, c + s], -1).astype(np.float32) for c, s in zip(corners, sizes))
  b[:8] = a[:8]                              # identical boxes
  b[8:16, :2] += 60                          # disjoint boxes
  ta = torch.from_numpy(a[:, [1, 0, 3, 2]]).requires_grad_()
  theirs = bbox_iou(ta, torch.from_numpy(b[:, [1, 0, 3, 2]]), xywh=False, CIoU=True)[:, 0]
  theirs.sum().backward()
  ours, grad = jax.value_and_grad(lambda x: complete_iou(x, jnp.asarray(b)).sum())(jnp.asarray(a))
  np.testing.assert_allclose(jax.vmap(lambda x, y: complete_iou(x, y))(jnp.asarray(a), jnp.asarray(b)),
                             theirs.detach().numpy(), atol=1e-6)
  np.testing.assert_allclose(ours, theirs.sum().item(), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(grad)[:, [1, 0, 3, 2]], ta.grad.numpy(), atol=1e-6)


def synthetic_predictions(points, strides, gt_boxes, rng):
  """Box logits whose expected distances reach near the ground truth box each location lies in (or a
  random box elsewhere), and random class logits: every candidate then has a positive alignment,
  so neither side's top-k has ties to break."""
  a = len(points)
  px = points * strides[:, None]
  target = np.tile(np.array([40.0, 40.0, 90.0, 120.0], np.float32), (a, 1))
  for box in gt_boxes:
    inside = (px[:, 0] > box[1]) & (px[:, 0] < box[3]) & (px[:, 1] > box[0]) & (px[:, 1] < box[2])
    target[inside] = box
  from vision_jax.detection.coders import encode_ltrb
  distances = np.clip(encode_ltrb(target, px) / strides[:, None] + rng.normal(0, 0.4, (a, 4)), 0.2, 14.5)
  logits = -2.0 * (np.arange(16)[None, None] - distances[..., None]) ** 2 + rng.normal(0, 0.3, (a, 4, 16))
  return logits.reshape(a, 64).astype(np.float32)


def test_assignment_and_loss_match_ultralytics_v8_detection_loss():
  from types import SimpleNamespace
  from ultralytics.utils.loss import v8DetectionLoss
  from vision_jax.detection.yolo import yolov8_loss
  torch.manual_seed(0)
  theirs = DetectionModel('yolov8n.yaml', nc=5, verbose=False)
  theirs.args = SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
  criterion = v8DetectionLoss(theirs)
  grids = [(HW[0] // s, HW[1] // s) for s in STRIDES]
  points, strides = anchor_points(grids, STRIDES)
  rng = np.random.default_rng(0)
  gt = [np.array([[10.0, 12.0, 70.0, 60.0], [60.0, 80.0, 120.0, 150.0], [20.0, 100.0, 29.0, 108.0]], np.float32),
        np.array([[5.0, 5.0, 120.0, 155.0]], np.float32)]
  box_logits = np.stack([synthetic_predictions(points, strides, g, rng) for g in gt])
  cls_logits = rng.normal(0, 2, (2, len(points), 5)).astype(np.float32)
  labels = [np.array([0, 3, 4]), np.array([2])]
  # Theirs: normalised (x, y, w, h) rows with image indices.
  rows = [(i, l, box) for i, (g, ls) in enumerate(zip(gt, labels)) for l, box in zip(ls, g)]
  xywh = np.array([[(b[1] + b[3]) / 2 / HW[1], (b[0] + b[2]) / 2 / HW[0], (b[3] - b[1]) / HW[1], (b[2] - b[0]) / HW[0]]
                   for _, _, b in rows], np.float32)
  batch = {'batch_idx': torch.tensor([r[0] for r in rows], dtype=torch.float32),
           'cls': torch.tensor([[float(r[1])] for r in rows]), 'bboxes': torch.from_numpy(xywh)}
  feats = [torch.zeros(2, 1, h, w) for h, w in grids]
  preds = {'boxes': torch.from_numpy(box_logits).permute(0, 2, 1), 'scores': torch.from_numpy(cls_logits).permute(0, 2, 1),
           'feats': feats}
  _, expected = criterion.loss(preds, batch)
  gt_boxes = np.zeros((2, 3, 4), np.float32)
  gt_labels, gt_valid = np.zeros((2, 3), np.int32), np.zeros((2, 3), bool)
  for i, (g, ls) in enumerate(zip(gt, labels)):
    gt_boxes[i, :len(g)], gt_labels[i, :len(g)], gt_valid[i, :len(g)] = g, ls, True
  ours = yolov8_loss(jnp.asarray(box_logits), jnp.asarray(cls_logits), jnp.asarray(points), strides,
                     jnp.asarray(gt_labels), jnp.asarray(gt_boxes), jnp.asarray(gt_valid))
  assert float(ours['foreground']) > 0
  for name, gain in (('box_loss', 7.5), ('cls_loss', 0.5), ('dfl_loss', 1.5)):
    np.testing.assert_allclose(float(ours[name]) * gain, float(expected[name]), rtol=1e-4, err_msg=name)
