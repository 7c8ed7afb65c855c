"""RetinaNet with a small FPN on the bundled digit scenes (the other detectors' scenes: 1-6 real
handwritten digits of 12-48 px on textured 128x128 backgrounds; train and test use disjoint glyphs).

  python launch.py --config=configs/digit_scenes_retinanet.py --workdir=runs/digit_scenes_retinanet

Targets within 20 minutes on 2 CPU cores: VOC all-point mAP@0.5 >= 0.95 on the 500 test scenes, and
>= 0.90 (`bright_mAP50`) on the same scenes drawn with brighter backgrounds (mean levels up to 0.5),
with the SSD demo's photometric augmentation. Measured (one seed): 0.9671 and 0.9091 in 1,263 s, so
63 s over the time (experiments/README.md has the runs that chose this config). Predict on any image
afterwards with --config.predict_image=PATH. `:smoke` runs 4 steps on 16 test scenes.
"""

from configs import common


def get_config(arg=None):
  c = common.retinanet_config('tiny')
  # The tiny trunk's C2-C4 (32, 16 and 8 cells at 128 px), RetinaNet's 3 scales per location sized
  # for 12-48 px glyphs, and the ratios of upright glyphs (height / width 1 and 2: no digit is wide),
  # so 6 anchors per location; two conv layers per head (the paper's four cost twice the head's
  # compute at the stride-4 level).
  c.model.levels = ['C2', 'C3', 'C4']
  c.model.anchor_sizes = [[12, 15, 19], [24, 30, 38], [48, 60, 76]]
  c.model.aspect_ratios = [1.0, 2.0]
  c.model.fpn_features = 64
  c.model.head_convs = 2
  c.model.head_norm = 'group'  # GroupNorm in the heads (torchvision's v2): the plain head learned the
                               # classes slowly here (mAP50 0.31 after 1,000 steps)
  c.nms.pre_nms_top_k = 200
  c.nms.max_detections = 100
  c.evals.bright = common.evaluator('detection_ap', dataset={'background_level': 0.5})
  common.digit_scenes_detection(c, arg, batch_size=16)
  if 'smoke' not in common.options(arg):
    c.eval_every_steps = c.checkpoint_every_steps = 1000
  return c
