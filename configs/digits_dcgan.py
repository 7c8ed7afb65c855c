"""DCGAN (Radford et al. 2016) on the bundled digits, resized to 32x32.

  python launch.py --config=configs/digits_dcgan.py --workdir=runs/digits_dcgan

Targets on 1,000 EMA samples after at most 15 minutes on 2 CPU cores: confident_frac >= 0.85,
min_class_frac >= 0.05, fd_digits within 3x fd_digits_real. Samples: WORKDIR/samples/.
`:smoke` runs 4 steps.
"""

from configs import common, digits_cnn


def get_config(arg=None):
  c = common.gan_config(image_size=32)
  c.dataset.name = 'digits'
  c.gan.conditional = True         # eval noise cycles the 10 classes
  c.gan.num_eval_samples = 1000
  # --config.evals.fid.weights=FILE (Inception-v3: pytorch-fid .pth, torchvision .pth, Keras .h5) adds
  # fid and kid against evals.fid.real_examples real train digits (0 = all 1,437).
  common.run_length(c, num_train_steps=4000, batch_size=c.batch_size, eval_batch_size=250, eval_every_steps=1000)
  c.keep_checkpoints = 2
  if 'smoke' in common.options(arg):
    common.smoke(c)
    c.eval_batch_size = 50
    c.gan.num_eval_samples = 100
    c.gan.g_widths = (32, 16, 8)
    c.gan.d_widths = (8, 16, 32)
  c.scorer = digits_cnn.scorer_config(smoke=arg == 'smoke')
  return c
