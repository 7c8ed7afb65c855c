"""Shared training pieces: state, optimizers, train-step helpers, data parallelism, checkpoints,
metric writers and the loop. Imports nothing from vision_jax.tasks."""
