"""The task registry: config.task -> run(config, workdir) -> the final eval record (or None)."""

from typing import Callable, Optional

from vision_jax.registry import Registry

TaskRun = Callable[..., Optional[dict]]
TASKS: Registry[TaskRun] = Registry('task')
