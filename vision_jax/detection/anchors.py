"""R-CNN anchors per feature level, as torchvision's AnchorGenerator lays them out: for each level
a set of base anchors (every aspect ratio of every size, rounded to whole pixels, centred on 0),
shifted to every location of the level's grid (stride = image size // grid size).

Boxes are [ymin, xmin, ymax, xmax] in input pixels; the order is level, then row, column, then
ratio-major over sizes, which is the order torchvision's RPN head predicts them in.
FPN (Lin et al. 2017): sizes 32-512 over P2-P6, one size per level, ratios 0.5, 1, 2.
C4 / VGG-16 (Ren et al. 2015): sizes 128, 256, 512 at stride 16, ratios 0.5, 1, 2.
"""

from typing import Sequence

import numpy as np

from vision_jax.errors import ConfigError

FPN_SIZES = ((32,), (64,), (128,), (256,), (512,))
C4_SIZES = ((128, 256, 512),)
RATIOS = (0.5, 1.0, 2.0)


def base_anchors(sizes: Sequence[float], ratios: Sequence[float] = RATIOS) -> np.ndarray:
  """(len(ratios) * len(sizes), 4) anchors centred on 0; ratio = height / width, area = size**2."""
  h_ratios = np.sqrt(np.asarray(ratios, np.float32))
  w_ratios = 1 / h_ratios
  widths = (w_ratios[:, None] * np.asarray(sizes, np.float32)[None]).reshape(-1)
  heights = (h_ratios[:, None] * np.asarray(sizes, np.float32)[None]).reshape(-1)
  return np.round(np.stack([-heights, -widths, heights, widths], -1) / 2)


def grid_anchors(base: np.ndarray, grid_hw: tuple[int, int], stride_hw: tuple[int, int]) -> np.ndarray:
  """(H * W * A, 4): the base anchors shifted to each grid location's top-left corner."""
  ys = np.arange(grid_hw[0], dtype=np.float32) * stride_hw[0]
  xs = np.arange(grid_hw[1], dtype=np.float32) * stride_hw[1]
  shift_y, shift_x = np.meshgrid(ys, xs, indexing='ij')
  shifts = np.stack([shift_y, shift_x, shift_y, shift_x], -1).reshape(-1, 1, 4)
  return (shifts + base[None]).reshape(-1, 4)


def level_anchors(image_hw: tuple[int, int], grids: Sequence[tuple[int, int]],
                  sizes: Sequence[Sequence[float]] = FPN_SIZES, ratios: Sequence[float] = RATIOS) -> list[np.ndarray]:
  """Anchors of each level for an image_hw input whose levels have the given grid sizes."""
  if len(grids) != len(sizes):
    raise ConfigError(f'{len(grids)} feature levels but {len(sizes)} anchor size groups')
  return [grid_anchors(base_anchors(s, ratios), grid, (image_hw[0] // grid[0], image_hw[1] // grid[1]))
          for grid, s in zip(grids, sizes)]
