"""Box machinery shared by the detectors (SSD now; R-CNN and YOLO later): pure jnp, static shapes,
jit- and vmap-safe. Boxes are [ymin, xmin, ymax, xmax], normalised to [0, 1], as TFDS gives them."""
