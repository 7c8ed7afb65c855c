"""DIR/plots/curves.png: train and evaluation curves drawn from metrics.jsonl."""

import os

from matplotlib.figure import Figure

from vision_jax.train.metrics import read_metrics


def plot_curves(metrics_path: str, out_path: str, keys: tuple[str, ...] = ('loss', 'accuracy')) -> str:
  """One panel per key, a line per split (train, eval, ...) by step; returns the PNG path."""
  records = read_metrics(metrics_path)
  splits = list(dict.fromkeys(r['split'] for r in records))
  keys = keys or ('loss',)
  fig = Figure(figsize=(5 * len(keys), 3.5))
  axes = fig.subplots(1, len(keys), squeeze=False)
  for ax, key in zip(axes[0], keys):
    for split in splits:
      points = [(r['step'], r[key]) for r in records if r['split'] == split and key in r]
      if points:
        ax.plot(*zip(*points), '-' if split == 'train' else 'o-', label=split, markersize=3)
    ax.set_xlabel('step')
    ax.set_title(key)
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  os.makedirs(os.path.dirname(out_path), exist_ok=True)
  fig.savefig(out_path, dpi=100)
  return out_path
