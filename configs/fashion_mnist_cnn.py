"""A wider LeNet-style CNN (32/64 conv channels, dropout) on Fashion-MNIST from TFDS.

  python launch.py --config=configs/fashion_mnist_cnn.py --workdir=runs/fashion_mnist_cnn

Reference: two-conv-layer CNNs reach about 0.91-0.92 test accuracy on Fashion-MNIST
(Xiao et al. 2017 benchmark). Needs `tfds build fashion_mnist`; not yet reproduced here.
`:smoke` runs 4 steps (the tests run it under tfds.testing.mock_data).
"""

from configs import common


def get_config(arg=None):
  c = common.classification_config()
  c.dataset.name = 'fashion_mnist'
  c.dataset.mean = (0.2860,)
  c.dataset.std = (0.3530,)
  c.model.name = 'lenet5'
  c.model.features = (32, 64)
  c.model.hidden = (256, 128)
  c.model.dropout_rate = 0.3
  common.optimize(c, 'adamw', 1e-3, weight_decay=1e-4, warmup_steps=200)
  c.label_smoothing = 0.1
  common.run_length(c, num_train_steps=14_040, batch_size=128, eval_batch_size=500,  # 30 epochs
                    eval_every_steps=2340)
  if 'smoke' in common.options(arg):
    common.smoke(c)
  return c
