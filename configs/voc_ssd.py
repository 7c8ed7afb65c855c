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
from vision_jax.detection import default_boxes as layouts

# arg -> model name, input size, default-box layout per dataset (vision_jax/detection/default_boxes.py)
MODELS = {
    'ssd300': ('ssd300_vgg16', 300, {'voc': layouts.SSD300_VOC, 'coco': layouts.SSD300_COCO}),
    'ssd512': ('ssd512_vgg16', 512, {'voc': layouts.SSD512_VOC, 'coco': layouts.SSD512_COCO}),
    'ssdlite': ('ssdlite_efficientnet_lite0', 320, {'voc': layouts.SSDLITE320, 'coco': layouts.SSDLITE320}),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def ssd_config(arg: str, dataset: str, layout: str) -> 'ml_collections.ConfigDict':
  """The SSD recipe for `arg` ('ssd300,smoke', ...) on a TFDS detection dataset."""
  name, _, smoke = (arg or 'ssd300').partition(',')
  if name not in MODELS:
    raise ValueError(f'SSD arg must be one of {tuple(MODELS)}, got {name!r}')
  model, size, boxes = MODELS[name]
  c = common.ssd_config()
  c.dataset.name = dataset
  c.dataset.image_size = size
  c.dataset.mean = IMAGENET_MEAN
  c.dataset.std = IMAGENET_STD
  c.dataset.augment = 'ssd'          # 'ssd' | 'flip' | 'none'
  c.dataset.max_boxes = 100
  c.dataset.train_sources = []       # [(name, split), ...]; [] = (name, train_split)
  c.model.name = model
  c.default_boxes = common.default_box_config(boxes[layout])
  common.optimize(c, 'sgd', 1e-3, 'piecewise', weight_decay=5e-4, warmup_steps=500, boundaries=(80_000, 100_000))
  common.run_length(c, num_train_steps=120_000, batch_size=32, eval_batch_size=32, eval_every_steps=10_000,
                    checkpoint_every_steps=5_000)
  if smoke == 'smoke':
    common.smoke(c)
    common.run_length(c, num_train_steps=2, batch_size=2, eval_batch_size=2, eval_every_steps=2, log_every_steps=1)
    c.dataset.max_boxes = 8
    c.evals.pictures.num_images = 2
  return c


def get_config(arg='ssd300'):
  c = ssd_config(arg, 'voc/2007', 'voc')
  c.dataset.train_sources = [('voc/2007', 'train+validation'), ('voc/2012', 'train+validation')]
  c.dataset.eval_split = 'test'
  return c
