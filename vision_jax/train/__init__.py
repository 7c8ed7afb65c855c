"""`run(config, workdir)`: dispatches on config.task to that task's module (imported lazily)."""

import importlib

from vision_jax.registry import Registry
from vision_jax.train.loop import prepare_workdir

TASKS: Registry[str] = Registry('task')
TASKS.register('classification')('vision_jax.tasks.classification')
TASKS.register('predict')('vision_jax.tasks.predict')
TASKS.register('detection')('vision_jax.tasks.detection')
TASKS.register('gan')('vision_jax.tasks.gan')
TASKS.register('inpaint')('vision_jax.tasks.inpaint')


def run(config, workdir: str):
  """Trains and evaluates the experiment described by `config` in `workdir`."""
  module = importlib.import_module(TASKS.get(config.task))
  return module.run(config, prepare_workdir(workdir))
