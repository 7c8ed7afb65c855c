"""PyTorch side of the benchmark: the same architectures (benchmarks/torch_models.py), optimizer,
batch and step as bench_jax, with channels_last and optionally torch.compile; bfloat16 runs
under torch.autocast (AMP)."""

import contextlib
import time

import numpy as np
import torch
from torch.nn import functional as F

from benchmarks import timing
from benchmarks.specs import Spec


def device() -> torch.device:
  return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


def _autocast(dtype: str):
  if dtype == 'bfloat16':
    return torch.autocast(device().type, dtype=torch.bfloat16)
  return contextlib.nullcontext()


def _prepare(module, compile_model: bool):
  module = module.to(device(), memory_format=torch.channels_last).train()
  return torch.compile(module) if compile_model else module


def _sgd_step(parameters, lr: float, train_loss):
  """step(): one SGD-momentum (0.9) update of `parameters` on train_loss(), returning the loss."""
  optimizer = torch.optim.SGD(parameters, lr=lr, momentum=0.9)

  def step():
    optimizer.zero_grad(set_to_none=True)
    loss = train_loss()
    loss.backward()
    optimizer.step()
    return loss
  return step


def _eval_forward(runner, inputs, dtype: str):
  """forward(): runner(inputs) in eval mode, without gradients, then back to train mode."""
  def forward():
    runner.eval()
    with torch.no_grad(), _autocast(dtype):
      out = runner(inputs)
    runner.train()
    return out
  return forward


def _supervised(model, compile_model: bool, dtype: str, images, loss_of, lr: float):
  """step() (one SGD-momentum update of loss_of(model outputs)) and forward() (eval mode, no grad)
  for a channels_last model on a fixed batch of images."""
  model = model.to(device(), memory_format=torch.channels_last)
  runner = _prepare(model, compile_model)
  images = images.to(memory_format=torch.channels_last)

  def train_loss():
    with _autocast(dtype):
      outputs = runner(images)
    return loss_of(outputs)
  return _sgd_step(model.parameters(), lr, train_loss), _eval_forward(runner, images, dtype)


def classifier_step(spec: Spec, batch: dict, compile_model: bool, dtype: str):
  """Cross-entropy, SGD momentum 0.9 at 0.01 (as bench_jax.classifier_parts)."""
  return _supervised(spec.torch_model(), compile_model, dtype, batch['image'],
                     lambda logits: F.cross_entropy(logits.float(), batch['label']), lr=0.01)


def gan_step(spec: Spec, batch: dict, compile_model: bool, dtype: str):
  """One D update on real and (detached) generated images, then one G update with fresh noise:
  the non-saturating loss and Adam 2e-4/0.5, as gan.make_train_step."""
  g, d = spec.torch_model()
  g, d = g.to(device()).train(), d.to(device(), memory_format=torch.channels_last).train()
  g_run, d_run = (torch.compile(g), torch.compile(d)) if compile_model else (g, d)
  g_opt = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
  d_opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
  real = batch['image'].to(memory_format=torch.channels_last)
  n = real.shape[0]
  bce = F.binary_cross_entropy_with_logits
  ones, zeros = torch.ones(n, device=device()), torch.zeros(n, device=device())

  def step():
    with _autocast(dtype):
      fake = g_run(torch.randn(n, 100, device=device()))
      d_loss = bce(d_run(real), ones) + bce(d_run(fake.detach()), zeros)
    d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    d_opt.step()
    with _autocast(dtype):
      g_loss = bce(d_run(g_run(torch.randn(n, 100, device=device()))), ones)
    g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    g_opt.step()
    return d_loss + g_loss

  z = torch.randn(n, 100, device=device())

  def forward():
    with torch.no_grad(), _autocast(dtype):
      return g_run(z)
  return step, forward


def _sync():
  if torch.cuda.is_available():
    torch.cuda.synchronize()


def torchvision_targets(boxes: torch.Tensor, labels: torch.Tensor, image_hw: tuple[int, int]) -> list[dict]:
  """Our padded (ymin, xmin, ymax, xmax) boxes in [0, 1] and 0-based labels as torchvision's
  per-image targets: (x1, y1, x2, y2) in pixels, labels from 1 (0 is its background)."""
  h, w = image_hw
  scale = torch.tensor([w, h, w, h], dtype=boxes.dtype, device=boxes.device)
  return [{'boxes': b[:, [1, 0, 3, 2]] * scale, 'labels': l + 1} for b, l in zip(boxes, labels)]


def torchvision_detector_step(spec: Spec, batch: dict, compile_model: bool, dtype: str):
  """One SGD-momentum update of a torchvision detector on the sum of its own losses (its transform,
  matching or sampling and loss, as its references train it), and forward() = its eval mode with
  decoding and NMS (as our eval). Learning rate 1e-5: from scratch, at 1e-3 both torchvision
  detectors diverge to NaN within 3 steps (their initial losses are in the hundreds), and NaN boxes
  would change the work NMS does; the rate does not change a step's work."""
  if compile_model:
    raise ValueError('torchvision detectors are timed eager only')
  model = spec.torchvision_model().to(device()).train()
  images = list(batch['image'])
  targets = torchvision_targets(batch['boxes'], batch['labels'], spec.shape[:2])

  def train_loss():
    with _autocast(dtype):
      return sum(model(images, targets).values())
  return (_sgd_step([p for p in model.parameters() if p.requires_grad], 1e-5, train_loss),
          _eval_forward(model, images, dtype))


def step_builder(spec: Spec, framework: str):
  """The (step, forward) builder for a model kind and PyTorch framework."""
  if framework == 'torchvision':
    return torchvision_detector_step
  return {'gan': gan_step, 'detector': detector_step}.get(spec.kind, classifier_step)


def benchmark(spec: Spec, host_batch: dict, dtype: str, warmup: int, steps: int, eval_steps: int,
              framework: str = 'torch') -> dict:
  """Train-step and eval throughput of the PyTorch reference (framework torch, torch_compile or
  torchvision); `compile_s` is the first step's time (torch.compile traces and compiles there)."""
  torch.manual_seed(0)
  batch = {'image': torch.from_numpy(np.ascontiguousarray(host_batch['image'].transpose(0, 3, 1, 2))).to(device()),
           'label': torch.from_numpy(host_batch['label'].astype(np.int64)).to(device())}
  if spec.kind == 'detector':
    batch['boxes'] = torch.from_numpy(host_batch['boxes']).to(device())
    batch['labels'] = torch.from_numpy(host_batch['labels'].astype(np.int64)).to(device())
  step, forward = step_builder(spec, framework)(spec, batch, framework == 'torch_compile', dtype)
  start = time.perf_counter()
  step()
  _sync()
  result = {'compile_s': time.perf_counter() - start}

  def synced_step():
    step()
    _sync()
  result.update(timing.throughput(len(host_batch['image']), timing.time_steps(synced_step, warmup, steps)))
  result['final_loss'] = step().item()
  start = time.perf_counter()
  forward()
  _sync()
  result['eval_compile_s'] = time.perf_counter() - start

  def synced_forward():
    forward()
    _sync()
  eval_times = timing.time_steps(synced_forward, warmup, eval_steps)
  result['eval_images_per_sec'] = timing.throughput(len(host_batch['image']), eval_times)['images_per_sec']
  if torch.cuda.is_available():
    result['device_peak_mb'] = torch.cuda.max_memory_allocated() / 2 ** 20
  return result


def _corners(center: torch.Tensor) -> torch.Tensor:
  return torch.cat([center[..., :2] - center[..., 2:] / 2, center[..., :2] + center[..., 2:] / 2], -1)


def multibox_loss(loc, logits, gt_boxes, gt_labels, priors, threshold=0.5, neg_pos_ratio=3.0):
  """SSD's matching (forced best prior per box, IoU >= threshold) and MultiBox loss (smooth L1 +
  cross-entropy over positives and the 3:1 hardest negatives, / positives), as vision_jax's."""
  corners = _corners(priors)
  top_left = torch.maximum(gt_boxes[:, :, None, :2], corners[None, None, :, :2])
  bottom_right = torch.minimum(gt_boxes[:, :, None, 2:], corners[None, None, :, 2:])
  inter = (bottom_right - top_left).clamp(min=0).prod(-1)
  area = lambda b: (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
  iou = inter / (area(gt_boxes)[:, :, None] + area(corners)[None, None] - inter).clamp(min=1e-12)  # (B, G, P)
  best_gt_iou, best_gt = iou.max(1)
  best_prior = iou.argmax(2)  # (B, G)
  rows = torch.arange(gt_boxes.shape[0], device=loc.device)[:, None]
  best_gt[rows, best_prior] = torch.arange(gt_boxes.shape[1], device=loc.device)[None]
  best_gt_iou[rows, best_prior] = 2.0
  positive = best_gt_iou >= threshold
  targets = torch.where(positive, torch.gather(gt_labels, 1, best_gt) + 1, 0)
  matched = torch.gather(gt_boxes, 1, best_gt[..., None].expand(-1, -1, 4))
  center = torch.cat([(matched[..., :2] + matched[..., 2:]) / 2, matched[..., 2:] - matched[..., :2]], -1)
  encoded = torch.cat([(center[..., :2] - priors[:, :2]) / (0.1 * priors[:, 2:]),
                       torch.log(center[..., 2:].clamp(min=1e-6) / priors[:, 2:]) / 0.2], -1)
  num_pos = positive.sum().clamp(min=1).float()
  loc_loss = (F.smooth_l1_loss(loc.float(), encoded, reduction='none').sum(-1) * positive).sum()
  ce = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction='none')  # (B, P)
  with torch.no_grad():
    background = -F.log_softmax(logits.float(), -1)[..., 0]
    background[positive] = -float('inf')
    rank = background.argsort(1, descending=True).argsort(1)
    num_neg = torch.minimum(neg_pos_ratio * positive.sum(1, keepdim=True), positive.shape[1] - positive.sum(1, keepdim=True))
    selected = positive | (rank < num_neg)
  return (loc_loss + (ce * selected).sum()) / num_pos


def detector_step(spec: Spec, batch: dict, compile_model: bool, dtype: str):
  """One SGD-momentum update of SSD300 on the MultiBox loss with in-step matching (the JAX step's
  work), and forward() = the network in eval mode (no decoding/NMS)."""
  import importlib
  from vision_jax.detection.default_boxes import default_boxes, spec_from_config
  config = importlib.import_module('configs.voc_ssd').get_config('ssd300')
  priors = torch.from_numpy(np.asarray(default_boxes(spec_from_config(config.default_boxes, 300, [38, 19, 10, 5, 3, 1])),
                                       np.float32)).to(device())
  return _supervised(spec.torch_model(), compile_model, dtype, batch['image'],
                     lambda out: multibox_loss(*out, batch['boxes'], batch['labels'], priors), lr=1e-3)
