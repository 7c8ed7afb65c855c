"""Tasks: thin wiring of data source + method + evaluators into the shared loop.

Each module registers its run(config, workdir) under a config.task name; `run` dispatches.
"""

from vision_jax.config_rules import validate
from vision_jax.tasks import classification, detection, generative, predict  # noqa: F401  (registers)
from vision_jax.tasks.registry import TASKS
from vision_jax.train.loop import prepare_workdir


def run(config, workdir: str, dry_run: bool = False):
  """Trains and evaluates (or predicts with) the experiment `config` describes, in `workdir`;
  returns the final eval record. dry_run: every check and set-up, traced to shapes, nothing trained
  or written (train/loop.py dry_run); returns its report."""
  validate(config)
  if dry_run:
    return TASKS.get(config.task)(config, workdir, dry_run=True)
  return TASKS.get(config.task)(config, prepare_workdir(workdir))
