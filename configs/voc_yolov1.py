"""YOLOv1 on PASCAL VOC (Redmon et al. 2016): train on VOC2007+2012 trainval, test on VOC2007.

  python launch.py --config=configs/voc_yolov1.py:yolo --workdir=runs/voc_yolov1

Paper VOC2007 test mAP (Table 1, 07+12 training): YOLO 63.4, Fast YOLO 52.7. Not reproduced on
this project's machines (no VOC, no GPU time, and no ImageNet-pretrained Darknet trunk: the paper
pretrains the first 20 convolutions on ImageNet at 224 px, here the trunk starts from random
weights, which costs accuracy). Recipe (the paper's sec. 2.2): 448 x 448 input (stretched), 7 x 7
grid, 2 boxes per cell, lambda_coord 5, lambda_noobj 0.5; batch 64, SGD momentum 0.9, weight decay
5e-4; learning rate warmed up to 1e-2 over the first epochs, 1e-2 for 75 epochs, 1e-3 for 30 and
1e-4 for 30 (135 in all); dropout 0.5 after the first fully connected layer; random scaling and
translation of up to 20% and exposure/saturation gains of up to 1.5 in HSV (here U(0.5, 1.5));
horizontal flip (Darknet's). `mAP50_voc07` is the 11-point AP the paper used.
arg: 'yolo' (24 convolutions) | 'fast' (Fast YOLO, 9), optionally ',smoke' (2 steps at batch 2 on
128 px under tfds.testing.mock_data in the tests). Needs `tfds build voc/2007 voc/2012`.
"""

from configs import common
from configs.coco_yolo import smoke

VOC0712_TRAINVAL_IMAGES = 16_551
ARCHITECTURES = ('yolo', 'fast')


def get_config(arg='yolo'):
  layers, smoke_run = common.choice_and_smoke(arg, ARCHITECTURES)
  c = common.yolov1_config(layers)
  c.dataset.name = 'voc/2007'
  c.dataset.train_sources = [('voc/2007', 'train+validation'), ('voc/2012', 'train+validation')]
  c.dataset.eval_split = 'test'
  c.dataset.image_size = 448
  c.dataset.mean = (0.0, 0.0, 0.0)    # Darknet feeds pixels / 255
  c.dataset.std = (1.0, 1.0, 1.0)
  c.dataset.max_boxes = 50
  c.dataset.augment = 'yolo'
  c.dataset.mosaic = 0.0
  c.dataset.scale = 0.2
  c.dataset.translate = 0.2
  c.dataset.hsv = (0.0, 0.5, 0.5)
  batch = 64
  epoch = VOC0712_TRAINVAL_IMAGES // batch
  common.optimize(c, 'sgd', 1e-2, 'piecewise', weight_decay=5e-4, warmup_steps=2 * epoch,
                  boundaries=(75 * epoch, 105 * epoch))
  common.run_length(c, num_train_steps=135 * epoch, batch_size=batch, eval_batch_size=64,
                    eval_every_steps=15 * epoch)
  if smoke_run:
    smoke(c)
  return c
