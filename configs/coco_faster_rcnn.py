"""Faster R-CNN R50-FPN 1x on COCO 2017 (Ren et al. 2015; Lin et al. 2017), torchvision's recipe:
train on train2017, evaluate on val2017 with pycocotools.

  python launch.py --config=configs/coco_faster_rcnn.py --workdir=runs/coco_faster_rcnn \\
      --config.init_from=/path/to/resnet50-0676ba61.pth    # torchvision's ImageNet ResNet-50

torchvision reports 37.0 box AP (val2017) for fasterrcnn_resnet50_fpn trained this way. Not
reproduced on this project's machines (no COCO, no GPU time). Recipe: SGD 0.02 at batch 16,
momentum 0.9, weight decay 1e-4, 90k iterations with the learning rate divided by 10 at 60k and
80k, linear warm-up over the first 1000; horizontal flip; images resized with the shorter side to
800 and the longer at most 1333, at the top left of one 1344 x 1344 input (one compiled shape);
stem and first ResNet stage frozen, all BatchNorm statistics frozen.

To run torchvision's trained detector instead, give its state_dict as init_from (e.g.
fasterrcnn_resnet50_fpn_coco-258fb6c6.pth) and --config.num_train_steps=0: the whole detector
is imported (tests/detection/test_faster_rcnn_torchvision.py checks the import output for output).
arg: '' or 'smoke' (2 steps at batch 2 on 128 px inputs; the tests run it under
tfds.testing.mock_data). Needs `tfds build coco/2017`.
"""

from configs import common
from configs.voc_ssd import IMAGENET_MEAN, IMAGENET_STD


def faster_rcnn_data(c, dataset: str, min_size: int, max_size: int):
  """TFDS detection data with R-CNN's min/max resize into one square input divisible by 32."""
  c.dataset.name = dataset
  c.dataset.resize = 'min_max'
  c.dataset.min_size = min_size
  c.dataset.max_size = max_size
  c.dataset.image_size = -(-max_size // 32) * 32
  c.dataset.mean = IMAGENET_MEAN
  c.dataset.std = IMAGENET_STD
  c.dataset.augment = 'flip'
  c.dataset.max_boxes = 100
  c.dataset.train_sources = []       # [(name, split), ...]; [] = (name, train_split)


def smoke(c):
  """2 steps at batch 2 on 128 px inputs with fewer proposals: the whole path, in seconds."""
  common.smoke(c)
  common.run_length(c, num_train_steps=2, batch_size=2, eval_batch_size=2, eval_every_steps=2, log_every_steps=1)
  c.dataset.min_size, c.dataset.max_size, c.dataset.image_size = 96, 128, 128
  c.dataset.max_boxes = 8
  c.model.rpn_pre_nms_top_n_train = c.model.rpn_post_nms_top_n_train = 64
  c.model.rpn_pre_nms_top_n_test = c.model.rpn_post_nms_top_n_test = 64
  c.model.box_batch_size_per_image = 32
  c.nms.pre_nms_top_k = 64
  c.evals.pictures.num_images = 2


def get_config(arg=''):
  c = common.faster_rcnn_config('resnet50', 'fpn')
  faster_rcnn_data(c, 'coco/2017', 800, 1333)
  c.dataset.train_split = 'train'
  c.dataset.eval_split = 'validation'
  common.optimize(c, 'sgd', 0.02, 'piecewise', weight_decay=1e-4, warmup_steps=1000, boundaries=(60_000, 80_000))
  common.run_length(c, num_train_steps=90_000, batch_size=16, eval_batch_size=16, eval_every_steps=10_000,
                    checkpoint_every_steps=5_000)
  if 'smoke' in common.options(arg):
    smoke(c)
  return c
