"""CycleGAN (Zhu et al. 2017) on the bundled digits, unpaired: domain A (grey digits as RGB, 32x32)
to domain B (digits in colour on textured backgrounds, data/digit_domains.py) and back. A and B come
from disjoint halves of the train digits, so no pair is ever seen; the test split keeps true pairs.

  python launch.py --config=configs/digits_cyclegan.py --workdir=runs/digits_cyclegan

Paper settings kept: ResNet generators, PatchGAN discriminators, instance norm, LSGAN, cycle loss 10,
identity 0.5 x cycle, pools of 50 fakes, Adam 2e-4 / beta1 0.5, constant rate then linear decay to 0
over the second half. Changed for 32x32 digits on 2 CPU cores: generators of width 32 with 3
residual blocks, 2-layer PatchGANs (each logit sees 34x34, the whole image), batch 16 instead of 1.
Issue #13's targets on the 360 test digits, within 20 minutes: translation_accuracy (a LeNet trained
on real domain-B digits, in WORKDIR/scorer) >= 0.90, domain_accuracy (a LeNet trained on real A vs
real B, in WORKDIR/domain_scorer) >= 0.90, cycle_l1 <= 0.05 (pixels in [0, 1]).
`:smoke` runs 4 steps with tiny networks.
"""

from configs import common
from configs.digits_pix2pix import domain_b_scorer, domain_classifier


def domain_scorer(smoke: bool = False):
  """The A-vs-B classifier behind domain_accuracy: LeNet-5 on real images of both domains."""
  c = domain_classifier('ab', smoke, a_channels=3)
  if not smoke:
    common.run_length(c, num_train_steps=300, batch_size=64, eval_batch_size=120, eval_every_steps=300)
  return c


def get_config(arg=None):
  c = common.cyclegan_config(image_size=32)
  c.dataset.name = 'digit_domains'
  c.dataset.domain = 'unpaired'
  c.dataset.a_channels = 3
  c.cyclegan.g_width = 32
  c.cyclegan.g_blocks = 3
  c.cyclegan.d_layers = 2
  common.run_length(c, num_train_steps=1000, batch_size=16, eval_batch_size=120, eval_every_steps=250)
  c.keep_checkpoints = 2
  smoke = 'smoke' in common.options(arg)
  if smoke:
    common.smoke(c)
    c.cyclegan.g_width, c.cyclegan.g_blocks, c.cyclegan.d_width = 4, 1, 8
    c.cyclegan.pool_size = 8
  c.scorer = domain_b_scorer(smoke)
  c.domain_scorer = domain_scorer(smoke)
  return c
