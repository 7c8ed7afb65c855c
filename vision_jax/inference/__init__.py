"""Using a trained model outside the trainer: `load(workdir)` returns a predictor for what WORKDIR
trained (vision_jax/inference/predictors.py); folder prediction writes results files."""

from vision_jax.inference.predictors import Classifier, Detector, Predictor, load  # noqa: F401
from vision_jax.inference import generative  # noqa: F401  (registers the generative predictors)
