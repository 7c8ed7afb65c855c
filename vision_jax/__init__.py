"""vision_jax: a functional JAX/Flax research codebase for computer vision."""
