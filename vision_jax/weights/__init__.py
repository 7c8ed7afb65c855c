"""Pretrained weights: importers from PyTorch files, the bundled ImageNet class names."""
