"""A small SSD on the bundled digit scenes (1-6 real handwritten digits of 12-48 px on textured
128x128 backgrounds; train and test scenes use disjoint glyphs).

  python launch.py --config=configs/digit_scenes_ssd.py --workdir=runs/digit_scenes_ssd

Targets within 15 minutes on 2 CPU cores: VOC all-point mAP@0.5 >= 0.95 on the 500 test scenes,
and >= 0.90 (`bright_mAP50`) on the same scenes drawn with brighter backgrounds (mean levels up to
0.5), which the photometric augmentation (gamma, brightness, contrast) prepares the detector for.
Predict on any image afterwards:
  python launch.py --config=configs/digit_scenes_ssd.py --workdir=runs/digit_scenes_ssd \\
      --config.predict_image=PATH
`:smoke` runs 4 steps on 16 test scenes.
"""

from configs import common
from vision_jax.detection.default_boxes import DefaultBoxSpec, chained

DIGIT_SCENES_BOXES = DefaultBoxSpec(128, (32, 16, 8, 4, 2), **chained((10, 20, 36, 56, 80, 110)),
                                    aspect_ratios=((2,), (2, 3), (2, 3), (2, 3), (2,)))


def get_config(arg=None):
  c = common.ssd_config()
  c.model.name = 'ssd_tiny'
  # Feature maps 32, 16, 8, 4, 2 at 128 px; glyphs span 12-48 px.
  c.default_boxes = common.default_box_config(DIGIT_SCENES_BOXES)
  # The same detector on test scenes drawn with brighter backgrounds (mean levels up to 0.5).
  c.evals.bright = common.evaluator('detection_ap', dataset={'background_level': 0.5})
  return common.digit_scenes_detection(c, arg, batch_size=32)
