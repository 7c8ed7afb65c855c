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
  c = common.detection_config()
  c.dataset.name = 'digit_scenes'
  c.dataset.channels = 1
  c.dataset.mean = (0.25,)
  c.dataset.std = (0.25,)
  c.dataset.augment = 'photometric'  # gamma, brightness and contrast (digits flipped are not digits)
  c.dataset.brightness = 0.25        # brightness shift; with gamma down to 0.5 backgrounds reach the
  c.dataset.gamma = 0.7              # 'bright' evaluator's levels, glyphs lose contrast as there
  c.dataset.background_level = 0.0   # test scenes: > 0 draws backgrounds with mean levels up to it
  c.model.name = 'ssd_tiny'
  # Feature maps 32, 16, 8, 4, 2 at 128 px; glyphs span 12-48 px.
  c.default_boxes = common.default_box_config(DIGIT_SCENES_BOXES)
  common.optimize(c, 'adamw', 2e-3, weight_decay=1e-4, warmup_steps=200)
  # The same detector on test scenes drawn with brighter backgrounds (mean levels up to 0.5).
  c.evals.bright = common.evaluator('detection_ap', dataset={'background_level': 0.5})
  common.run_length(c, num_train_steps=2000, batch_size=32, eval_batch_size=100, eval_every_steps=500)
  if arg == 'smoke':
    common.smoke(c)
    c.dataset.num_test_scenes = 16
    c.evals.pictures.num_images = 4
  return c
