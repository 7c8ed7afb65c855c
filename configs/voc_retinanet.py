"""RetinaNet R50-FPN on PASCAL VOC: train on VOC2007+2012 trainval, evaluate on VOC2007 test.

  python launch.py --config=configs/voc_retinanet.py --workdir=runs/voc_retinanet \\
      --config.init_from=/path/to/resnet50-0676ba61.pth    # torchvision's ImageNet ResNet-50

The paper reports COCO only; its COCO recipe, torchvision's, is configs/coco_retinanet.py (36.4 box
AP). Here: the VOC schedule of configs/voc_faster_rcnn.py:resnet50_fpn,0712 (SGD 0.01 at batch 8,
weight decay 1e-4, 18k iterations with the rate divided by 10 at 12k and 16k, 500 warm-up steps;
shorter side 600, longer at most 1000; flip), with RetinaNet's own loss and inference. Not run on
this project's machines (no VOC, no GPU time): no number of ours yet. `mAP50` is VOC all-point AP,
`mAP50_voc07` the 11-point version. arg: '' or 'smoke' (2 steps at batch 2 on 128 px inputs, under
tfds.testing.mock_data in the tests). Needs `tfds build voc/2007 voc/2012`.
"""

from configs import common
from configs.coco_faster_rcnn import faster_rcnn_data
from configs.coco_retinanet import smoke


def get_config(arg=''):
  c = common.retinanet_config('resnet50')
  faster_rcnn_data(c, 'voc/2007', 600, 1000)
  c.dataset.eval_split = 'test'
  c.dataset.train_sources = [('voc/2007', 'train+validation'), ('voc/2012', 'train+validation')]
  common.optimize(c, 'sgd', 0.01, 'piecewise', weight_decay=1e-4, warmup_steps=500, boundaries=(12_000, 16_000))
  common.run_length(c, num_train_steps=18_000, batch_size=8, eval_batch_size=8, eval_every_steps=3_000)
  if 'smoke' in common.options(arg):
    smoke(c)
  return c
