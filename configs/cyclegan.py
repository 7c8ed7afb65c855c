"""CycleGAN (Zhu et al. 2017) on TFDS cycle_gan/*: `:horse2zebra` or `:monet2photo`, 256 x 256,
unpaired (A from trainA, B from trainB; evaluation translates testA).

  python launch.py --config=configs/cyclegan.py:horse2zebra --workdir=runs/horse2zebra \\
      --config.fid_weights=/path/to/pt_inception-2015-12-05-6726825d.pth   # optional FID, both directions

The paper's settings: ResNet generators with 9 blocks (256 px), 70x70 PatchGANs, instance norm,
LSGAN, cycle loss 10, identity 0.5 x cycle (the paper used it for monet2photo and the code defaults
to it), image pools of 50, Adam 2e-4 / beta1 0.5, batch 1, 200 epochs: the rate constant for 100 and
then linearly to 0 over the last 100 (one epoch = one pass over the larger domain: 1,334 zebras,
6,287 photos). Departure: images are resized to 256 and flipped; the reference loads them at 286 and
takes random 256 crops. The eval line carries cycle_l1 (mean |G_BA(G_AB(a)) - a| over testA, pixels
in [0, 1]) and, with an Inception file, fid_ab / kid_ab (G_AB(testA) against 1,000 real trainB
images) and fid_ba / kid_ba (G_BA(testB) against 1,000 real trainA images). The paper reports no
FID for these (AMT perceptual studies and FCN scores on Cityscapes); there is no number to match. Grids of A, G_AB(A), G_BA(G_AB(A)): WORKDIR/samples/.
Needs `tfds build cycle_gan/horse2zebra` (or monet2photo). `smoke` (e.g. `:horse2zebra,smoke`) runs
4 steps with tiny networks; the tests run it under tfds.testing.mock_data.
"""

from configs import common

EPOCH_STEPS = {'horse2zebra': 1334, 'monet2photo': 6287}  # the larger domain's train images


def get_config(arg='horse2zebra'):
  dataset, _, rest = (arg or 'horse2zebra').partition(',')
  options = common.options(rest, ('smoke',))
  if dataset not in EPOCH_STEPS:
    raise ValueError(f'cyclegan.py:DATASET with DATASET one of {", ".join(EPOCH_STEPS)}, got {dataset!r}')
  c = common.cyclegan_config(image_size=256)
  c.fid_weights = ''                # an Inception-v3 file turns on FID in both directions
  c.dataset.name = f'cycle_gan/{dataset}'
  c.dataset.label_key = ''
  c.dataset.train_split, c.dataset.eval_split = 'trainA', 'testA'
  c.dataset.b_train_split, c.dataset.b_eval_split = 'trainB', 'testB'
  c.dataset.augment = 'flip'
  common.run_length(c, num_train_steps=200 * EPOCH_STEPS[dataset], batch_size=1, eval_batch_size=8,
                    eval_every_steps=10 * EPOCH_STEPS[dataset], log_every_steps=500)
  c.evals.eval.plot_keys = ('cycle_l1',)
  fid_weights = c.get_ref('fid_weights')
  c.evals.fid_ab = common.evaluator('fid', weights=fid_weights, image_size=299, real_examples=1000, real='target',
                                    metric='fid_ab', record='eval')
  c.evals.fid_ba = common.evaluator('fid', weights=fid_weights, image_size=299, real_examples=1000, direction='ba',
                                    metric='fid_ba', record='eval')
  if 'smoke' in options:
    common.smoke(c)
    c.batch_size = c.eval_batch_size = 2
    c.dataset.image_size = 64
    c.cyclegan.g_width, c.cyclegan.g_blocks, c.cyclegan.d_width, c.cyclegan.pool_size = 4, 1, 8, 4
    c.cyclegan.grid_images = 2
  return c
