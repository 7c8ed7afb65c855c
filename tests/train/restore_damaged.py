"""One restore of WORKDIR's (damaged) checkpoint in a fresh process, as a relaunch does it; WORKDIR
without checkpoints gets a small one first. Prints the error line (tests/train/test_damaged_checkpoints.py)."""

import os
import sys

import jax.numpy as jnp

from vision_jax.errors import UserError
from vision_jax.train.checkpoint import Checkpointer, abstract_like

TREE = {'params': {'w': jnp.ones((64, 64)), 'b': jnp.zeros((64,))}, 'step': jnp.int32(3)}

if __name__ == '__main__':
  workdir = sys.argv[1]
  if not os.path.exists(os.path.join(workdir, 'checkpoints')):
    writer = Checkpointer(workdir, 1, 3)
    writer.save(1, TREE, force=True)
    writer.close()
  try:
    Checkpointer(workdir, 1, 3).restore_latest(abstract_like(TREE))
  except UserError as e:
    print(f'error: {e}')
