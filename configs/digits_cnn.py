"""LeNet-5 on the bundled scikit-learn digits (8x8, upsampled to 28x28): the `make demo` job.

  python launch.py --config=configs/digits_cnn.py --workdir=runs/digits_cnn

Expected: eval top-1 >= 0.985 on the 360 held-out digits, the whole launch in under
60 s on 2 CPU cores. `--config=configs/digits_cnn.py:smoke` runs 4 steps in seconds.
`:scorer` is the pinned classifier that scores generated digits (32x32, pixels in [-1, 1]).
"""

from configs import common


def get_config(arg=None):
  c = common.classification_config()
  c.dataset.name = 'digits'
  c.dataset.image_size = 28
  c.dataset.mean = (0.3,)
  c.dataset.std = (0.4,)
  c.dataset.max_shift = 2
  common.lenet5_sgd(c, base_lr=0.05, warmup_steps=50)
  common.run_length(c, num_train_steps=1000, batch_size=64, eval_batch_size=128, eval_every_steps=500)
  if 'scorer' in common.options(arg, ('smoke', 'scorer')):
    c.dataset.image_size = 32
    c.dataset.mean = (0.5,)
    c.dataset.std = (0.5,)
    c.eval_every_steps = 1000
    c.checkpoint_every_steps = 1000
    c.keep_checkpoints = 1
  if 'smoke' in common.options(arg, ('smoke', 'scorer')):
    common.smoke(c)
  return c


def scorer_config(smoke: bool = False):
  """The pinned scorer of the GAN and inpainting configs; smoke trains it for 20 steps (the same in
  every smoke config, so tests can train it once and share it)."""
  c = get_config('scorer')
  if smoke:
    c.num_train_steps = 20
    c.eval_every_steps = 20
    c.checkpoint_every_steps = 20
    c.schedule.warmup_steps = 5  # within its 20 steps (config_rules: a longer one never reaches base_lr)
  return c
