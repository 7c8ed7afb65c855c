"""Two domains of unpaired images as one source (CycleGAN): batch 'image' from domain A, 'target'
from domain B, each stream shuffled and resumed on its own. Built from two sources of the same
kind, e.g. TFDS cycle_gan/* read once with A's splits and once with B's (dataset.b_train_split,
dataset.b_eval_split)."""

from typing import Iterator

from vision_jax.data.batching import Batch
from vision_jax.data.source import Source


class UnpairedSource(Source):
  """A's source gives the interface (image shape, classes, eval batches: A's test images, with no
  paired target); B's train stream rides along under 'target'."""

  def __init__(self, a, b):
    self.a, self.b = a, b
    self.num_classes, self.image_shape, self.num_eval_examples = a.num_classes, a.image_shape, a.num_eval_examples
    self.target_shape = tuple(b.image_shape)
    self.mean, self.std = a.mean, a.std

  def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
    for batch_a, batch_b in zip(self.a.train_batches(start_step), self.b.train_batches(start_step)):
      yield {**batch_a, 'target': batch_b['image']}

  def eval_batches(self) -> Iterator[Batch]:
    return self.a.eval_batches()

  def target_batches(self) -> Iterator[Batch]:
    """Domain B's eval images (real B for FID)."""
    return self.b.eval_batches()
