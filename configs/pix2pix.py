"""pix2pix (Isola et al. 2017) at 256x256 on paired images in pix2pix's own layout: folders of
images that hold A (left half) and B (right half) side by side, as facades, cityscapes, maps,
edges2shoes and night2day are downloaded (train/, val/, test/).

  python launch.py --config=configs/pix2pix.py --workdir=runs/facades \\
      --config.dataset.train_dir=facades/train --config.dataset.eval_dir=facades/val \\
      --config.dataset.direction=BtoA        # facades: labels (right) -> photo (left)

The paper's settings, kept: U-Net G of 8 levels (64-128-256-512-512-512-512-512) with skips and
dropout 0.5 in the 3 decoder blocks after the innermost (the only noise); 70x70 PatchGAN D
(C64-C128-C256-C512) on (input, output) pairs; GAN (non-saturating BCE) + 100 x L1; Adam 2e-4,
beta1 0.5; batch 1 with BatchNorm (at batch 1 it normalises each image, as instance norm);
random jitter (resize to 286, random 256 crop, flip); facades' 400 images for 200 epochs, the
reference code's 100 at constant rate then 100 decaying linearly to 0 (80,000 steps at batch 1;
set num_train_steps to 200 x your image count). Logged by the 'translation' evaluator: l1, psnr
and ssim of G(A) against the true B in [0, 1] pixels; grids of (A, G(A), B) in WORKDIR/samples/.
Not reproduced on this project's machines (no paired dataset offline; the paper reports FCN
scores on Cityscapes and AMT studies, not a number this code computes). `:smoke` runs 4 steps of
tiny networks at 32x32 (the tests point it at the digit domains written as A|B files).
"""

from configs import common


def get_config(arg=None):
  c = common.pix2pix_config(image_size=256)
  c.dataset.name = 'image_pairs'
  c.dataset.channels = 3
  c.dataset.augment = 'jitter'     # 'jitter' (resize to load_size, random image_size crop, flip) | 'none'
  c.dataset.load_size = 286
  c.dataset.direction = 'AtoB'     # 'AtoB' | 'BtoA': which half of each file is the input
  c.schedule.name = 'linear'
  c.schedule.decay_start = 0.5     # constant for the first half, then linear to 0
  c.schedule.final_lr_fraction = 0.0
  common.run_length(c, num_train_steps=80_000, batch_size=1, eval_batch_size=8, eval_every_steps=10_000,
                    checkpoint_every_steps=5_000)
  c.pix2pix.grid_images = 8
  if 'smoke' in common.options(arg):
    common.smoke(c)
    c.dataset.image_size = 32
    c.dataset.load_size = 36
    c.batch_size = 4
    c.eval_batch_size = 8
    c.pix2pix.g_widths = (8, 16, 16, 16, 16)
    c.pix2pix.d_width = 8
  return c
