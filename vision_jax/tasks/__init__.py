"""Tasks: thin wiring of data source + method + evaluators into the shared loop.

Each module registers its run(config, workdir) under a config.task name; `run` dispatches.
"""

from vision_jax.config_rules import validate
from vision_jax.tasks import classification, detection, generative, predict  # noqa: F401  (registers)
from vision_jax.tasks.registry import TASKS
from vision_jax.train.loop import prepare_workdir


def run(config, workdir: str):
  """Trains and evaluates (or predicts with) the experiment `config` describes, in `workdir`;
  returns the final eval record."""
  validate(config)
  return TASKS.get(config.task)(config, prepare_workdir(workdir))
