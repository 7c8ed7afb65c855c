"""Anchor points and distribution-focal box decoding of anchor-free detectors (YOLOv8; Li et al. 2020,
Generalized Focal Loss): each location predicts, per side (left, top, right, bottom), logits over
reg_max bins; the distance is the softmax expectation, in units of the level's stride, measured from
the location's centre. Boxes come out as [ymin, xmin, ymax, xmax] in input pixels.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def anchor_points(grids: Sequence[tuple[int, int]], strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
  """(points (A, 2) as (x, y) cell centres in grid units, stride (A,)) over the levels' (H, W)
  grids, row-major per level: the order the head's outputs are flattened in."""
  points, point_strides = [], []
  for (h, w), stride in zip(grids, strides):
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32) + 0.5, np.arange(w, dtype=np.float32) + 0.5, indexing='ij')
    points.append(np.stack([xs.reshape(-1), ys.reshape(-1)], -1))
    point_strides.append(np.full(h * w, stride, np.float32))
  return np.concatenate(points), np.concatenate(point_strides)


def expected_distances(logits: jnp.ndarray, reg_max: int = 16) -> jnp.ndarray:
  """(..., 4 * reg_max) bin logits, side-major -> (..., 4) expected (left, top, right, bottom)."""
  probs = jax.nn.softmax(logits.reshape(*logits.shape[:-1], 4, reg_max).astype(jnp.float32), axis=-1)
  return probs @ jnp.arange(reg_max, dtype=jnp.float32)


def distances_to_boxes(distances: jnp.ndarray, points: jnp.ndarray) -> jnp.ndarray:
  """(..., 4) (left, top, right, bottom) from (..., 2) (x, y) points -> [ymin, xmin, ymax, xmax]."""
  left, top, right, bottom = jnp.moveaxis(distances, -1, 0)
  x, y = points[..., 0], points[..., 1]
  return jnp.stack([y - top, x - left, y + bottom, x + right], -1)


def decode(box_logits: jnp.ndarray, points: jnp.ndarray, strides: jnp.ndarray, reg_max: int = 16) -> jnp.ndarray:
  """(B, A, 4 * reg_max) logits -> (B, A, 4) boxes [ymin, xmin, ymax, xmax] in input pixels."""
  return distances_to_boxes(expected_distances(box_logits, reg_max), points) * strides[:, None]
