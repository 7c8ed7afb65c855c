"""Faster R-CNN on PASCAL VOC: train on VOC2007 trainval (or 07+12 with ',0712'), test on VOC2007.

  python launch.py --config=configs/voc_faster_rcnn.py:vgg16 --workdir=runs/voc_frcnn_vgg16 \\
      --config.init_from=/path/to/vgg16-397923af.pth        # torchvision's ImageNet VGG-16
  python launch.py --config=configs/voc_faster_rcnn.py:resnet50_fpn,0712 --workdir=runs/voc_frcnn_r50 \\
      --config.init_from=/path/to/resnet50-0676ba61.pth

Published VOC2007 test mAP: VGG-16, Ren et al. 2015 table 3: 69.9 (07 trainval) and 73.2 (07+12).
ResNet-50-FPN on 07+12: mmdetection's model zoo reports 80.4. Neither reproduced on this project's
machines (no VOC, no GPU time). Recipe (the paper's): SGD momentum 0.9, weight decay 5e-4, images
with the shorter side 600 and the longer at most 1000 (one 1024 x 1024 input), flip; the paper's
lr 1e-3 for 60k single-image iterations and 1e-4 for 20k more, here at batch 8 as lr 8e-3 for
7.5k and 8e-4 to 10k (linear scaling); 256 anchors per image for the RPN, VGG-16 fine-tuned from
conv3_1. ResNet-50-FPN: lr 0.01 at batch 8, 18k iterations, divided by 10 at 12k and 16k, and the
RPN/RoI sizes of the COCO recipe. `mAP50_voc07` is the 11-point AP the paper used, `mAP50` the
all-point AP. arg: 'vgg16' | 'resnet50_fpn', then ',0712' and/or ',smoke'. Needs
`tfds build voc/2007` (and voc/2012 for 07+12).
"""

from configs import common
from configs.coco_faster_rcnn import faster_rcnn_data, smoke

# arg -> (backbone, neck)
BACKBONES = {'vgg16': ('vgg16_c4', 'none'), 'resnet50_fpn': ('resnet50', 'fpn')}


def get_config(arg='vgg16'):
  backbone, *options = (arg or 'vgg16').split(',')
  if backbone not in BACKBONES or not set(options) <= {'0712', 'smoke'}:
    raise ValueError(f'arg must be one of {tuple(BACKBONES)} then ",0712" and/or ",smoke"; got {arg!r}')
  c = common.faster_rcnn_config(*BACKBONES[backbone])
  faster_rcnn_data(c, 'voc/2007', 600, 1000)
  c.dataset.eval_split = 'test'
  if '0712' in options:
    c.dataset.train_sources = [('voc/2007', 'train+validation'), ('voc/2012', 'train+validation')]
  else:
    c.dataset.train_split = 'train+validation'
  if backbone == 'vgg16':
    c.model.rpn_pre_nms_top_n_train = c.model.rpn_post_nms_top_n_train = 2000
    c.model.rpn_pre_nms_top_n_test, c.model.rpn_post_nms_top_n_test = 6000, 300   # the paper's test setting
    c.model.box_batch_size_per_image = 128                                         # Fast R-CNN's 128 RoIs
    c.losses.box_beta = 1.0
    common.optimize(c, 'sgd', 8e-3, 'piecewise', weight_decay=5e-4, warmup_steps=0, boundaries=(7_500,))
    common.run_length(c, num_train_steps=10_000, batch_size=8, eval_batch_size=8, eval_every_steps=2_500)
  else:
    common.optimize(c, 'sgd', 0.01, 'piecewise', weight_decay=1e-4, warmup_steps=500, boundaries=(12_000, 16_000))
    common.run_length(c, num_train_steps=18_000, batch_size=8, eval_batch_size=8, eval_every_steps=3_000)
  if 'smoke' in options:
    smoke(c)
  return c
