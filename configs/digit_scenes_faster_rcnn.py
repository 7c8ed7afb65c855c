"""Faster R-CNN with a small FPN on the bundled digit scenes (the SSD demo's scenes: 1-6 real
handwritten digits of 12-48 px on textured 128x128 backgrounds; train and test use disjoint glyphs).

  python launch.py --config=configs/digit_scenes_faster_rcnn.py --workdir=runs/digit_scenes_faster_rcnn

Targets within 20 minutes on 2 CPU cores: VOC all-point mAP@0.5 >= 0.95 on the 500 test scenes,
and `rpn_recall` (test ground truth covered by a kept proposal at IoU >= 0.5) >= 0.98.
Predict on any image afterwards:
  python launch.py --config=configs/digit_scenes_faster_rcnn.py --workdir=runs/digit_scenes_faster_rcnn \\
      --config.predict_image=PATH
`:smoke` runs 4 steps on 16 test scenes.
"""

from configs import common


def get_config(arg=None):
  c = common.faster_rcnn_config('tiny', 'fpn')
  # Levels at strides 4, 8, 16 (32, 16, 8 cells at 128 px), one anchor size each for 12-48 px glyphs.
  c.model.anchor_sizes = [[16], [32], [64]]
  c.model.fpn_features = 64
  c.model.representation = 256
  c.model.rpn_pre_nms_top_n_train = 150
  c.model.rpn_post_nms_top_n_train = 150
  c.model.rpn_pre_nms_top_n_test = 150
  c.model.rpn_post_nms_top_n_test = 100
  c.model.box_batch_size_per_image = 32  # at most 8 foreground: scenes hold 1-6 digits
  c.model.roi_aligned = True
  c.model.roi_align_impl = 'matmul'   # small maps: two matrix products beat gathers on CPU
  c.model.roi_canonical_scale = 32.0  # 32 px RoIs pool from the stride-8 level, smaller from stride 4
  c.model.roi_canonical_level = 3
  c.nms.pre_nms_top_k = 100
  return common.digit_scenes_detection(c, arg, batch_size=16)
