"""Context-encoder inpainting (Pathak et al. 2016) of the bundled digits at 32x32, the central
12x12 square missing.

  python launch.py --config=configs/digits_inpaint.py --workdir=runs/digits_inpaint

Targets on the 360 test digits: inpaint_accuracy (the pinned digits classifier on completed
images) >= 0.90, above masked_accuracy (on the mean-filled inputs); masked_l2 (the completion's
squared error over the hole) below meanfill_l2. Grids of masked / completed / original test digits:
WORKDIR/samples/. `:smoke` runs 4 steps; `:random` trains and scores with randomly placed holes.
"""

from configs import common, digits_cnn


def get_config(arg=None):
  c = common.inpaint_config(image_size=32, hole=12)
  c.dataset.name = 'digits'
  common.run_length(c, num_train_steps=2000, batch_size=c.batch_size, eval_batch_size=120, eval_every_steps=1000)
  c.keep_checkpoints = 2
  args = common.options(arg, ('random', 'smoke'))
  if 'random' in args:
    c.inpaint.mask = 'random'
  if 'smoke' in args:
    common.smoke(c)
    c.inpaint.widths = (8, 16, 32)
    c.inpaint.bottleneck = 32
    c.gan.d_widths = (8, 16, 32)
  c.scorer = digits_cnn.scorer_config(smoke='smoke' in args)
  return c
