"""Pictures of results: image grids (generative samples) and images with detection boxes."""

import os

import numpy as np
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.patches import Rectangle


def save_image_grid(images: np.ndarray, path: str) -> str:
  """Writes (rows, cols, H, W, C) images in [-1, 1] as one picture at `path`."""
  rows, cols, h, w, c = images.shape
  grid = ((np.asarray(images) + 1) / 2).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  imsave(path, np.clip(grid[..., 0] if c == 1 else grid, 0, 1), cmap='gray' if c == 1 else None)
  return path


def step_path(workdir: str, folder: str, step: int) -> str:
  """WORKDIR/FOLDER/step_XXXXXXX.png."""
  return os.path.join(workdir, folder, f'step_{step:07d}.png')


def draw_detections(ax, image: np.ndarray, records: list[dict]) -> None:
  """Draws the image (HxW or HxWx3 in [0, 1]) and each record's box, label and score into `ax`."""
  ax.imshow(np.clip(image, 0, 1), cmap='gray' if image.ndim == 2 else None)
  for r in records:
    ymin, xmin, ymax, xmax = r['box']
    ax.add_patch(Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False, color='lime', linewidth=1.5))
    ax.text(xmin, ymin, f"{r['label']} {r['score']:.2f}", color='black', fontsize=7,
            bbox={'facecolor': 'lime', 'alpha': 0.8, 'pad': 1, 'linewidth': 0})
  ax.axis('off')


def save_detection_grid(images: list[np.ndarray], records: list[list[dict]], path: str, cols: int = 4) -> str:
  """Images with their detections in a grid of `cols` columns (one image: its own size) at `path`."""
  count = len(images)
  cols = min(count, cols)
  rows = -(-count // cols)
  size = (6, 6 * images[0].shape[0] / images[0].shape[1]) if count == 1 else (3 * cols, 3 * rows)
  fig = Figure(figsize=size)
  axes = fig.subplots(rows, cols, squeeze=False)
  for i, ax in enumerate(axes.flat):
    if i < count:
      draw_detections(ax, images[i], records[i])
    else:
      ax.axis('off')
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  fig.savefig(path, dpi=100)
  return path
