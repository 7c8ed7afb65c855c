"""DCGAN (Radford et al. 2016) on the bundled digits, resized to 32x32.

  python launch.py --config=configs/digits_dcgan.py --workdir=runs/digits_dcgan

Targets on 1,000 EMA samples after at most 15 minutes on 2 CPU cores: confident_frac >= 0.85,
min_class_frac >= 0.05, fd_digits within 3x fd_digits_real. Samples: WORKDIR/samples/.
`:smoke` runs 4 steps.
"""

import ml_collections

from configs import common, digits_cnn


def get_config(arg=None):
  c = common.classification_config()
  c.task = 'gan'
  c.dataset.name = 'digits'
  c.dataset.image_size = 32
  c.dataset.mean = (0.5,)  # pixels in [-1, 1], G's tanh range
  c.dataset.std = (0.5,)
  del c.label_smoothing, c.accum_steps, c.init_from, c.freeze, c.freeze_batch_stats, c.lr_multipliers
  c.gan = ml_collections.ConfigDict()
  c.gan.loss = 'non_saturating'    # 'non_saturating' | 'hinge' | 'wgan_gp'
  c.gan.d_steps = 1
  c.gan.gp_weight = 10.0           # wgan_gp
  c.gan.r1_gamma = 0.0
  c.gan.latent_dim = 100
  c.gan.g_widths = (128, 64, 32)
  c.gan.d_widths = (32, 64, 128)
  c.gan.conditional = True         # labels embedded in G, projection in D; eval noise cycles the 10 classes
  c.gan.spectral_norm = False
  c.gan.ema_decay = 0.999
  c.gan.sample_batch_stats = True  # sample with the noise batch's BatchNorm statistics (as DCGAN did)
  c.gan.d_lr = 0.0                 # 0: schedule.base_lr
  c.gan.num_eval_samples = 1000
  c.gan.fid_weights = ''           # Inception-v3 weights (pytorch-fid .pth, torchvision .pth, Keras .h5): adds fid, kid
  c.gan.fid_image_size = 299
  c.gan.fid_real_examples = 0      # real train digits for the FID reference; 0 = all 1,437
  c.optimizer.name = 'adam'
  c.optimizer.b1 = 0.5
  c.optimizer.b2 = 0.999
  c.schedule.name = 'constant'
  c.schedule.base_lr = 2e-4
  c.batch_size = 64
  c.eval_batch_size = 250
  c.num_train_steps = 4000
  c.log_every_steps = 100
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 2
  c.scorer = digits_cnn.get_config('scorer')
  if arg == 'smoke':
    common.smoke(c)
    c.eval_batch_size = 50
    c.gan.num_eval_samples = 100
    c.gan.g_widths = (32, 16, 8)
    c.gan.d_widths = (8, 16, 32)
    c.scorer.num_train_steps = 20
    c.scorer.eval_every_steps = 20
    c.scorer.checkpoint_every_steps = 20
  return c
