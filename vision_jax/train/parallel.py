"""Data parallelism: one 1-D 'data' mesh over all devices of all processes.

State is replicated, batches are sharded along their leading axis, and `jax.jit`
partitions the step (so BatchNorm sees the global batch, i.e. synchronised BN).
"""

import collections
import itertools
from typing import Iterator

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from vision_jax.errors import UserError


def data_mesh() -> Mesh:
  return Mesh(np.asarray(jax.devices()), ('data',))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P('data'))


def check_batch_size(name: str, global_batch_size: int) -> None:
  """The global batch must split evenly over every device (and so every process)."""
  n = jax.device_count()
  if global_batch_size % n:
    raise UserError(f'{name} {global_batch_size} is not divisible by the {n} devices; '
                    f'use a multiple of {n}')


def to_global(batch: dict, mesh: Mesh) -> dict:
  """Assembles this process's numpy batch into globally sharded jax.Arrays."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def prefetch_to_mesh(batches: Iterator[dict], mesh: Mesh, size: int = 2) -> Iterator[dict]:
  """Keeps `size` batches in flight to the devices so input transfer overlaps compute."""
  queue = collections.deque()
  for batch in itertools.islice(batches, size):
    queue.append(to_global(batch, mesh))
  while queue:
    yield queue.popleft()
    for batch in itertools.islice(batches, 1):
      queue.append(to_global(batch, mesh))
