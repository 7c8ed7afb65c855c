"""Evaluation metrics computed on the host from gathered predictions: VOC AP, (later) COCO AP, FID."""
