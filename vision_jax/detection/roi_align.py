"""RoIAlign (He et al. 2017) with torchvision's `aligned=True` semantics, for a fixed number of RoIs
per image so it jits, differentiable with respect to the features; the FPN level of each RoI, and
RoIAlign over an FPN (each RoI pooled from its level).

Each output bin averages sampling_ratio x sampling_ratio bilinear samples at evenly spaced points
of the bin. With aligned=True a pixel's centre is at +0.5, so box coordinates are shifted by half a
pixel before sampling. Samples more than one pixel outside the map read 0; samples between -1 and
0 (or H - 1 and H) read the border, as in torchvision's kernel.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def _bilinear(features: jnp.ndarray, y: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
  """features (H, W, C) sampled at float coordinates y, x (same shape S) -> (*S, C)."""
  height, width = features.shape[:2]
  outside = (y < -1.0) | (y > height) | (x < -1.0) | (x > width)
  y, x = jnp.maximum(y, 0.0), jnp.maximum(x, 0.0)
  y0, x0 = jnp.floor(y).astype(jnp.int32), jnp.floor(x).astype(jnp.int32)
  y_at_edge, x_at_edge = y0 >= height - 1, x0 >= width - 1
  y0, x0 = jnp.where(y_at_edge, height - 1, y0), jnp.where(x_at_edge, width - 1, x0)
  y1, x1 = jnp.where(y_at_edge, y0, y0 + 1), jnp.where(x_at_edge, x0, x0 + 1)
  y, x = jnp.where(y_at_edge, y0.astype(y.dtype), y), jnp.where(x_at_edge, x0.astype(x.dtype), x)
  ly, lx = (y - y0)[..., None], (x - x0)[..., None]
  value = ((1 - ly) * (1 - lx) * features[y0, x0] + (1 - ly) * lx * features[y0, x1]
           + ly * (1 - lx) * features[y1, x0] + ly * lx * features[y1, x1])
  return jnp.where(outside[..., None], 0.0, value)


def sample_points(rois: jnp.ndarray, output_size: int, spatial_scale: float, sampling_ratio: int,
                  aligned: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
  """(ys, xs), each (K, output_size * sampling_ratio): the sample coordinates along each axis, bin-major.
  Bin p, sample i sits at start + p * bin + (i + 0.5) * bin / ratio."""
  offset = 0.5 if aligned else 0.0
  start = rois[:, :2] * spatial_scale - offset                       # (K, 2) y, x
  size = rois[:, 2:] * spatial_scale - offset - start
  if not aligned:
    size = jnp.maximum(size, 1.0)
  bin_size = size / output_size
  steps = (jnp.arange(output_size)[:, None] + (jnp.arange(sampling_ratio)[None] + 0.5) / sampling_ratio).reshape(-1)
  return start[:, 0, None] + steps[None] * bin_size[:, 0, None], start[:, 1, None] + steps[None] * bin_size[:, 1, None]


def axis_weights(coords: jnp.ndarray, size: int, output_size: int, sampling_ratio: int) -> jnp.ndarray:
  """(K, S) sample coordinates along an axis of `size` cells -> (K, output_size, size): each bin's
  average bilinear weight per cell, with the kernel's border rules (see _bilinear)."""
  outside = (coords < -1.0) | (coords > size)
  coords = jnp.maximum(coords, 0.0)
  low = jnp.floor(coords).astype(jnp.int32)
  at_edge = low >= size - 1
  low = jnp.where(at_edge, size - 1, low)
  frac = jnp.where(at_edge, 0.0, coords - low)
  cells = jnp.arange(size)
  weights = ((cells == low[..., None]) * (1 - frac)[..., None] + (cells == low[..., None] + 1) * frac[..., None])
  weights = jnp.where(outside[..., None], 0.0, weights)
  k = coords.shape[0]
  return weights.reshape(k, output_size, sampling_ratio, size).mean(axis=2)


def roi_align_single(features: jnp.ndarray, rois: jnp.ndarray, output_size: int = 7, spatial_scale: float = 1.0,
                     sampling_ratio: int = 2, aligned: bool = True, impl: str = 'gather') -> jnp.ndarray:
  """One image: features (H, W, C), rois (K, 4) [ymin, xmin, ymax, xmax] in input pixels
  -> (K, output_size, output_size, C).

  impl 'gather' reads the four neighbours of every sample (cheap for large maps); 'matmul' writes
  bilinear sampling, which is separable, as two small matrix products per RoI, (P, H) x (H, W, C)
  x (W, P): several times faster on CPU for small maps (digit scenes), and the same numbers."""
  ys, xs = sample_points(rois, output_size, spatial_scale, sampling_ratio, aligned)
  if impl == 'matmul':
    height, width = features.shape[:2]
    wy = axis_weights(ys, height, output_size, sampling_ratio).astype(features.dtype)
    wx = axis_weights(xs, width, output_size, sampling_ratio).astype(features.dtype)
    return jnp.einsum('kph,hwc,kqw->kpqc', wy, features, wx)
  samples = _bilinear(features, ys[:, :, None], xs[:, None, :])     # (K, P * R, P * R, C)
  k, c = rois.shape[0], features.shape[-1]
  samples = samples.reshape(k, output_size, sampling_ratio, output_size, sampling_ratio, c)
  return samples.mean(axis=(2, 4))


def roi_align(features: jnp.ndarray, rois: jnp.ndarray, output_size: int = 7, spatial_scale: float = 1.0,
              sampling_ratio: int = 2, aligned: bool = True, impl: str = 'gather') -> jnp.ndarray:
  """Batched: features (B, H, W, C), rois (B, K, 4) -> (B, K, output_size, output_size, C)."""
  return jax.vmap(lambda f, r: roi_align_single(f, r, output_size, spatial_scale, sampling_ratio, aligned, impl))(
      features, rois)


def fpn_levels(rois: jnp.ndarray, min_level: int = 2, max_level: int = 5, canonical_level: int = 4,
               canonical_scale: float = 224.0, eps: float = 1e-6) -> jnp.ndarray:
  """The FPN level of each RoI (Lin et al. 2017, eq. 1, as torchvision's LevelMapper):
  floor(k0 + log2(sqrt(area) / 224) + eps), clamped to [min_level, max_level]."""
  area = (rois[..., 2] - rois[..., 0]) * (rois[..., 3] - rois[..., 1])
  level = jnp.floor(canonical_level + jnp.log2(jnp.sqrt(area) / canonical_scale) + eps)
  return jnp.clip(level, min_level, max_level).astype(jnp.int32)


def multilevel_roi_align(levels: Sequence[jnp.ndarray], strides: Sequence[int], rois: jnp.ndarray,
                         output_size: int, sampling_ratio: int, aligned: bool, canonical_scale: float,
                         canonical_level: int, impl: str = 'gather') -> jnp.ndarray:
  """One image: each RoI (K, 4) pooled from its FPN level (Lin et al. eq. 1) -> (K, S, S, C)."""
  if len(levels) == 1:
    return roi_align_single(levels[0], rois, output_size, 1.0 / strides[0], sampling_ratio, aligned, impl)
  min_level = int(round(np.log2(strides[0])))
  level = fpn_levels(rois, min_level, min_level + len(levels) - 1, canonical_level, canonical_scale) - min_level
  pooled = jnp.zeros((rois.shape[0], output_size, output_size, levels[0].shape[-1]), levels[0].dtype)
  for k, (features, stride) in enumerate(zip(levels, strides)):
    at_level = roi_align_single(features, rois, output_size, 1.0 / stride, sampling_ratio, aligned, impl)
    pooled = jnp.where((level == k)[:, None, None, None], at_level, pooled)
  return pooled
