"""YOLOv1 (a 10-convolution trunk with batch norm, two fully connected layers, an 8x8 grid of 16 px
cells, 2 boxes per cell) on the bundled digit scenes (the other detectors' scenes: 1-6 real
handwritten digits of 12-48 px on textured 128x128 backgrounds), trained from scratch. The trunk is
SSD's tiny base (a stride-2 stem, then two convolutions per halving) with a 3x3/256 and a 1x1/64
layer on top, so the first fully connected layer reads 8x8x64 features.

  python launch.py --config=configs/digit_scenes_yolov1.py --workdir=runs/digit_scenes_yolov1

The grid predicts one class per cell, so two digits whose centres share a 16 px cell cannot both be
found (cell_targets keeps the first); experiments/detection/README.md measures what that costs,
and what YOLOv1 reaches here without the paper's ImageNet-pretrained trunk.
`:smoke` runs 4 steps on 16 test scenes.
"""

from configs import common


def get_config(arg=None):
  c = common.yolov1_config('3x16/2 M 3x32 3x32 M 3x64 3x64 M 3x128 3x128 3x256 1x64')  # stride 16: 8x8 cells
  c.model.grid_size = 8
  c.model.hidden = 2048
  c.model.batch_norm = True
  return common.digit_scenes_detection(c, arg, batch_size=32)
