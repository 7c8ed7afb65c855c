"""SSD on PASCAL VOC (Liu et al. 2016): train on VOC2007+2012 trainval, evaluate on VOC2007 test.

  python launch.py --config=configs/voc_ssd.py:ssd300 --workdir=runs/voc_ssd300 \\
      --config.init_from=/path/to/vgg16-397923af.pth     # torchvision's ImageNet VGG-16

Paper VOC2007 test mAP: SSD300 74.3, SSD512 76.8; with the zoom-out expansion used here
("SSD300*", "SSD512*") 77.2 and 79.8. Not reproduced on this project's machines (no VOC, no GPU
time). Recipe: SGD momentum 0.9, weight decay 5e-4, batch 32, lr 1e-3 for 80k iterations, then
1e-4 to 100k and 1e-5 to 120k (a 500-step linear warmup keeps the first steps stable);
photometric distortion, expand up to 4x, min-IoU crops, flip, resize. `mAP50` in metrics.jsonl is
VOC all-point AP at IoU 0.5 on normalised boxes; `mAP50_voc07` the 11-point version the paper used.
arg: 'ssd300' | 'ssd512' | 'ssdlite' (EfficientNet-Lite0 SSDLite at 320), optionally ',smoke'
(2 steps at batch 2; the tests run it under tfds.testing.mock_data). Needs `tfds build voc/2007 voc/2012`.
"""

import ml_collections

from configs import common

# model name, input size, default-box sizes (pixels), aspect ratios, steps
MODELS = {
    'ssd300': ('ssd300_vgg16', 300, [30, 60, 111, 162, 213, 264, 315],
               [[2], [2, 3], [2, 3], [2, 3], [2], [2]], [8, 16, 32, 64, 100, 300]),
    'ssd512': ('ssd512_vgg16', 512, None, [[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]],
               [8, 16, 32, 64, 128, 256, 512]),
    'ssdlite': ('ssdlite_efficientnet_lite0', 320, [32, 64, 118, 172, 226, 280, 336],
                [[2], [2, 3], [2, 3], [2, 3], [2], [2]], []),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def ssd_config(arg: str, dataset: str, sizes_512) -> 'ml_collections.ConfigDict':
  """The SSD recipe for `arg` ('ssd300,smoke', ...) on a TFDS detection dataset."""
  name, _, smoke = (arg or 'ssd300').partition(',')
  if name not in MODELS:
    raise ValueError(f'SSD arg must be one of {tuple(MODELS)}, got {name!r}')
  model, size, sizes, ratios, steps = MODELS[name]
  c = common.detection_config()
  c.dataset.name = dataset
  c.dataset.image_size = size
  c.dataset.mean = IMAGENET_MEAN
  c.dataset.std = IMAGENET_STD
  c.dataset.augment = 'ssd'          # 'ssd' | 'flip' | 'none'
  c.dataset.max_boxes = 100
  c.dataset.train_sources = []       # [(name, split), ...]; [] = (name, train_split)
  c.model.name = model
  c.default_boxes.sizes = sizes or sizes_512
  c.default_boxes.aspect_ratios = ratios
  c.default_boxes.steps = steps
  c.optimizer.name = 'sgd'
  c.optimizer.momentum = 0.9
  c.optimizer.weight_decay = 5e-4
  c.schedule.name = 'piecewise'
  c.schedule.base_lr = 1e-3
  c.schedule.warmup_steps = 500
  c.schedule.boundaries = [80_000, 100_000]
  c.batch_size = 32
  c.eval_batch_size = 32
  c.num_train_steps = 120_000
  c.log_every_steps = 100
  c.eval_every_steps = 10_000
  c.checkpoint_every_steps = 5_000
  c.num_prediction_pictures = 8
  if smoke == 'smoke':
    common.smoke(c)
    c.batch_size = 2
    c.eval_batch_size = 2
    c.num_train_steps = 2
    c.log_every_steps = 1
    c.eval_every_steps = 2
    c.checkpoint_every_steps = 2
    c.dataset.max_boxes = 8
    c.num_prediction_pictures = 2
  return c


def get_config(arg='ssd300'):
  c = ssd_config(arg, 'voc/2007', [20.48, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6])
  c.dataset.train_sources = [('voc/2007', 'train+validation'), ('voc/2012', 'train+validation')]
  c.dataset.eval_split = 'test'
  return c
