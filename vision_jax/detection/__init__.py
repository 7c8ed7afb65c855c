"""Object detection: the box machinery the families share (boxes and IoU, box coders, anchors and
default boxes, matchers and samplers, NMS, RoIAlign, loss terms; pure jnp, static shapes, jit- and
vmap-safe), the Detector contract (detector.py), and one module per family (ssd, faster_rcnn,
retinanet, yolo, yolov1) holding its network's heads, loss, post-processing, weight import and registration.
families.py imports them all. Boxes are [ymin, xmin, ymax, xmax]; backbones and necks live in
vision_jax/models (backbones.py, necks.py)."""
