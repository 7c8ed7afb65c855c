"""Feed-forward neural style (Johnson et al. 2016): a transform network learns to paint any photo
in the style of one photo, trained with the perceptual loss of configs/neural_style.py.

  python launch.py --config=configs/fast_style.py --config.style=sklearn:flower --workdir=runs/fast_style
  python launch.py --config=configs/fast_style.py:coco --config.style=PATH --workdir=runs/fast_style_coco

`photos` (the default): trains on six of the seven bundled photos at 128 x 128 and styles the
held-out chelsea (dataset.eval_photos); the eval line has the perceptual terms of the styled
held-out photo, its `*_start` values and content_class_kept (its ImageNet top-1 class still in the
top 5). `coco`: Johnson et al.'s recipe on TFDS coco/2017 train images (256 x 256 center crops,
batch 4, 40,000 steps = 2 epochs of the 80k images, Adam 1e-3), evaluated on validation images;
needs `tfds build coco/2017`. Departures, as in neural_style.py: EfficientNet-Lite0 features for
VGG-16's relu layers; the transform net's first and last convolutions are 7x7 (CycleGAN's
generator) where Johnson's are 9x9. `smoke` (e.g. `:photos,smoke`) runs 4 steps at 64 x 64.
"""

from configs import common


def get_config(arg='photos'):
  data, _, rest = (arg or 'photos').partition(',')
  options = common.options(rest, ('smoke',))
  if data not in ('photos', 'coco'):
    raise ValueError(f'fast_style.py:DATA with DATA photos or coco, got {data!r}')
  c = common.fast_style_config(image_size=128)
  common.run_length(c, num_train_steps=600, batch_size=2, eval_batch_size=1, eval_every_steps=200, log_every_steps=50)
  if data == 'coco':
    c.dataset = common.classification_config().dataset
    c.dataset.update({'name': 'coco/2017', 'label_key': '', 'image_size': 256, 'augment': 'center_crop',
                      'eval_preprocess': 'center_crop', 'crop_fraction': 1.0, 'train_split': 'train',
                      'eval_split': 'validation[:100]', 'mean': (127 / 255,) * 3, 'std': (128 / 255,) * 3})
    common.run_length(c, num_train_steps=40_000, batch_size=4, eval_batch_size=4, eval_every_steps=5_000,
                      log_every_steps=200)
  if 'smoke' in options:
    c.dataset.image_size = 64
    c.fast_style.width, c.fast_style.num_blocks, c.fast_style.grid_images = 8, 1, 1
    common.run_length(c, num_train_steps=4, batch_size=2, eval_batch_size=1, eval_every_steps=4, log_every_steps=2)
  return c
