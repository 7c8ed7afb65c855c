"""LeNet-5 (LeCun et al. 1998) on MNIST from TFDS.

  python launch.py --config=configs/mnist_lenet.py --workdir=runs/mnist_lenet

Target: test error at most 1% (the paper reports 0.95% for LeNet-5 without distortions),
i.e. eval accuracy >= 0.99 after 20 epochs (9,360 steps of 128). Needs `tfds build mnist`
(see README); not yet reproduced on this project's machines, which cannot download it.
`:smoke` runs 4 steps (the tests run it under tfds.testing.mock_data).
"""

from configs import common


def get_config(arg=None):
  c = common.classification_config()
  c.dataset.name = 'mnist'
  c.dataset.mean = (0.1307,)
  c.dataset.std = (0.3081,)
  common.lenet5_sgd(c, base_lr=0.05, warmup_steps=200)
  common.run_length(c, num_train_steps=9360, batch_size=128, eval_batch_size=500, eval_every_steps=936)
  if 'smoke' in common.options(arg):
    common.smoke(c)
  return c
