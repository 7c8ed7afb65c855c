"""DIR/plots/curves.png: train and eval curves drawn from metrics.jsonl."""

import os

from vision_jax.train.metrics import read_metrics


def plot_curves(metrics_path: str, out_path: str, keys: tuple[str, ...] = ('loss', 'accuracy')) -> str:
  """One panel per key, train and eval lines by step; returns the PNG path."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  records = read_metrics(metrics_path)
  fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.5), squeeze=False)
  for ax, key in zip(axes[0], keys):
    for split, style in (('train', '-'), ('eval', 'o-')):
      points = [(r['step'], r[key]) for r in records if r['split'] == split and key in r]
      if points:
        ax.plot(*zip(*points), style, label=split, markersize=3)
    ax.set_xlabel('step')
    ax.set_title(key)
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  os.makedirs(os.path.dirname(out_path), exist_ok=True)
  fig.savefig(out_path, dpi=100)
  plt.close(fig)
  return out_path
