"""A YOLOv8-style anchor-free detector (width below v8n) on the bundled digit scenes (the SSD and
Faster R-CNN demos' scenes: 1-6 real handwritten digits of 12-48 px on textured 128x128 backgrounds).

  python launch.py --config=configs/digit_scenes_yolo.py --workdir=runs/digit_scenes_yolo

Target (issue #12): VOC all-point mAP@0.5 >= 0.95 on the 500 test scenes within 15 minutes on 2
CPU cores. Predict on any image afterwards with --config.predict_image=PATH.
`:smoke` runs 4 steps on 16 test scenes.
"""

from configs import common


def get_config(arg=None):
  c = common.yolo_config('n')
  c.model.width = 0.125   # channels 8-128 instead of v8n's 16-256: the CPU budget
  c.nms.pre_nms_top_k = 100
  c.nms.max_detections = 100
  common.digit_scenes_detection(c, arg, batch_size=32)
  c.optimizer.weight_decay = 5e-4  # as the measured run
  return c
