"""RetinaNet R50-FPN on COCO 2017 (Lin et al. 2017), torchvision's recipe: train on train2017,
evaluate on val2017 with pycocotools.

  python launch.py --config=configs/coco_retinanet.py --workdir=runs/coco_retinanet \\
      --config.init_from=/path/to/resnet50-0676ba61.pth    # torchvision's ImageNet ResNet-50

torchvision reports 36.4 box AP (val2017) for retinanet_resnet50_fpn trained this way. Not reproduced
on this project's machines (no COCO, no GPU time). Recipe (torchvision's detection reference): SGD
0.01 at batch 16, momentum 0.9, weight decay 1e-4, 26 epochs (190,560 iterations of 7,329) with the
rate divided by 10 after epochs 16 and 22, linear warm-up over the first 1000; horizontal flip; the
shorter side resized to 800 and the longer at most 1333, at the top left of one 1344 x 1344 input;
stem and first ResNet stage frozen, all BatchNorm frozen. Focal loss alpha 0.25, gamma 2; anchors at
IoU >= 0.5 foreground, < 0.4 background.

To run torchvision's trained detector instead, give its state_dict as init_from (e.g.
retinanet_resnet50_fpn_coco-eeacb38b.pth) and --config.num_train_steps=0: the whole detector is
imported (tests/detection/test_retinanet_torchvision.py checks the import output for output).
arg: '' or 'smoke' (2 steps at batch 2 on 128 px inputs; the tests run it under
tfds.testing.mock_data). Needs `tfds build coco/2017`.
"""

from configs import common
from configs.coco_faster_rcnn import faster_rcnn_data

EPOCH = 7_329  # iterations of batch 16 over train2017's 117,266 images


def smoke(c):
  """2 steps at batch 2 on 128 px inputs: the whole path, in seconds."""
  common.smoke(c)
  common.run_length(c, num_train_steps=2, batch_size=2, eval_batch_size=2, eval_every_steps=2, log_every_steps=1)
  c.dataset.min_size, c.dataset.max_size, c.dataset.image_size = 96, 128, 128
  c.dataset.max_boxes = 8
  c.nms.pre_nms_top_k = 100
  c.evals.pictures.num_images = 2


def get_config(arg=''):
  c = common.retinanet_config('resnet50')
  faster_rcnn_data(c, 'coco/2017', 800, 1333)
  c.dataset.train_split = 'train'
  c.dataset.eval_split = 'validation'
  common.optimize(c, 'sgd', 0.01, 'piecewise', weight_decay=1e-4, warmup_steps=1000,
                  boundaries=(16 * EPOCH, 22 * EPOCH))
  common.run_length(c, num_train_steps=26 * EPOCH, batch_size=16, eval_batch_size=16, eval_every_steps=4 * EPOCH,
                    checkpoint_every_steps=EPOCH)
  if 'smoke' in common.options(arg):
    smoke(c)
  return c
