"""Top-k predictions of a classifier, with class names (ImageNet's or a dataset's classes.json)."""

import numpy as np


def top_k(probs: np.ndarray, k: int, names: list[str]) -> list[dict]:
  """[{'index', 'name', 'prob'}] of the k most probable classes, most probable first."""
  order = np.argsort(-probs)[:k]
  return [{'index': int(i), 'name': names[i], 'prob': float(probs[i])} for i in order]
