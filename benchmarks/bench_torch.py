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


def classifier_step(spec: Spec, batch: dict, compile_model: bool, dtype: str):
  """step() (one SGD-momentum update on cross-entropy) and forward() (eval mode, no grad)."""
  model = spec.torch_model()
  model = model.to(device(), memory_format=torch.channels_last)
  runner = _prepare(model, compile_model)
  optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
  images = batch['image'].to(memory_format=torch.channels_last)

  def step():
    optimizer.zero_grad(set_to_none=True)
    with _autocast(dtype):
      loss = F.cross_entropy(runner(images), batch['label'])
    loss.backward()
    optimizer.step()
    return loss

  def forward():
    runner.eval()
    with torch.no_grad(), _autocast(dtype):
      out = runner(images)
    runner.train()
    return out
  return step, forward


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


def benchmark(spec: Spec, host_batch: dict, dtype: str, warmup: int, steps: int, eval_steps: int,
              compile_model: bool) -> dict:
  """Train-step and eval throughput of the PyTorch reference; `compile_s` is the first step's
  time (torch.compile traces and compiles there)."""
  torch.manual_seed(0)
  batch = {'image': torch.from_numpy(np.ascontiguousarray(host_batch['image'].transpose(0, 3, 1, 2))).to(device()),
           'label': torch.from_numpy(host_batch['label'].astype(np.int64)).to(device())}
  make = gan_step if spec.kind == 'gan' else classifier_step
  step, forward = make(spec, batch, compile_model, dtype)
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
