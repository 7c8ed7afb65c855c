"""YOLOv1 (a 7-convolution trunk with batch norm, an 8x8 grid of 16 px cells, 2 boxes per cell) on
the bundled digit scenes (the other detectors' scenes: 1-6 real handwritten digits of 12-48 px on
textured 128x128 backgrounds).

  python launch.py --config=configs/digit_scenes_yolov1.py --workdir=runs/digit_scenes_yolov1

The grid predicts one class per cell, so two digits whose centres share a 16 px cell cannot both be
found (cell_targets keeps the first); experiments/detection/README.md measures what that costs.
`:smoke` runs 4 steps on 16 test scenes.
"""

from configs import common


def get_config(arg=None):
  c = common.yolov1_config('3x16 M 3x32 M 3x64 M 3x128 M 3x256 1x128 3x256')  # stride 16: 8x8 features
  c.model.grid_size = 8
  c.model.hidden = 512
  c.model.batch_norm = True
  return common.digit_scenes_detection(c, arg, batch_size=32)
