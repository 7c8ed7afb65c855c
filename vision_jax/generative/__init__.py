"""Generative methods (see method.py for the contract), registered by name: config.method."""

from vision_jax.generative import cyclegan, dcgan, fast_style, inpaint, neural_style, pix2pix  # noqa: F401  (registers the methods)
from vision_jax.generative.method import METHODS, GenerativeMethod

__all__ = ['METHODS', 'GenerativeMethod']
