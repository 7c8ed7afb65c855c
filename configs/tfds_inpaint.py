"""Context-encoder inpainting (Pathak et al. 2016) on TFDS photos: `:celeb_a` (64x64 center crops of
the aligned faces, the central 32x32 missing) or `:cifar10` (32x32, the central 16x16 missing).

  python launch.py --config=configs/tfds_inpaint.py:celeb_a --workdir=runs/celeb_a_inpaint
  python launch.py --config=configs/tfds_inpaint.py:cifar10,random --workdir=runs/cifar10_inpaint

Options after the dataset: `random` places the hole anywhere (one square per image), `smoke` runs
4 steps with small networks. The eval line carries masked_l2 (the completion over the hole, in
normalised units) and meanfill_l2 (the mean-filled input); no classifier scores these datasets.
Grids of masked / completed / original test images: WORKDIR/samples/. Pathak et al. report
results on Paris StreetView and ImageNet, not on these datasets; there is no number to match.
"""

from configs import common

PRESETS = {
    # dataset: (TFDS name, image size, hole, train split, eval split, augment, widths, bottleneck)
    'celeb_a': ('celeb_a', 64, 32, 'train', 'test', 'center_crop_flip', (64, 128, 256, 512), 1024),
    'cifar10': ('cifar10', 32, 16, 'train', 'test', 'flip', (64, 128, 256), 512),
}


def get_config(arg='cifar10'):
  dataset, _, rest = (arg or 'cifar10').partition(',')
  options = common.options(rest, ('random', 'smoke'))
  if dataset not in PRESETS:
    raise ValueError(f'tfds_inpaint.py:DATASET with DATASET one of {", ".join(PRESETS)}, got {dataset!r}')
  name, size, hole, train_split, eval_split, augment, widths, bottleneck = PRESETS[dataset]
  c = common.inpaint_config(image_size=size, hole=hole)
  c.dataset.name = name
  c.dataset.label_key = ''          # inpainting needs no labels (CelebA has none)
  c.dataset.train_split, c.dataset.eval_split = train_split, eval_split
  c.dataset.augment = augment
  c.dataset.eval_preprocess = 'center_crop'
  c.dataset.crop_fraction = 1.0     # the whole shorter side: a central square of the photo
  c.inpaint.widths = widths
  c.inpaint.bottleneck = bottleneck
  c.gan.d_widths = (64, 128, 256, 512)
  common.run_length(c, num_train_steps=100_000, batch_size=64, eval_batch_size=200, eval_every_steps=5000,
                    log_every_steps=200)
  if 'random' in options:
    c.inpaint.mask = 'random'
  if 'smoke' in options:
    common.smoke(c)
    c.inpaint.widths = (8, 16, 32, 32)[:len(widths)]
    c.inpaint.bottleneck = 32
    c.gan.d_widths = (8, 16, 32, 32)
  return c
