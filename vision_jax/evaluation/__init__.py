"""Evaluators built from config.evals (evaluators.py) and the metrics behind them: accuracy,
VOC AP, COCO AP (pycocotools), Fréchet and kernel distances, FID features, pictures.

Importing the package registers every evaluator type of its modules.
"""

from vision_jax.evaluation import classification, detection, generative  # noqa: F401  (register types)
