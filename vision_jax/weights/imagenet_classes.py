"""The names of the 1,000 ImageNet-1k classes (imagenet_classes.tsv beside this file), by index."""

import functools
import os

CLASSES_FILE = os.path.join(os.path.dirname(__file__), 'imagenet_classes.tsv')


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> list[str]:
  """The 1,000 ImageNet-1k class names, by class index."""
  with open(CLASSES_FILE) as f:
    return [line.split('\t')[2] for line in f if not line.startswith('#')]
