"""CIFAR-10 ResNet-20/32/44/56/110 with the recipe of He et al. 2016, section 4.2.

  python launch.py --config=configs/cifar10_resnet.py:56 --workdir=runs/cifar10_resnet56

Published test error (the paper's Table 6, option A shortcuts): ResNet-20 8.75%, ResNet-32 7.51%,
ResNet-44 7.17%, ResNet-56 6.97%, ResNet-110 6.43% (best of 5; mean 6.61 +- 0.16).
Recipe: SGD momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10 at 32k and 48k of
64k iterations; 4-pixel zero-pad + random 32x32 crop + horizontal flip; per-channel
normalisation. ResNet-110 warms up (the paper: lr 0.01 for ~400 iterations; here a linear
warmup over 400 steps). Needs `tfds build cifar10`; not reproduced on this project's machines.
arg: depth, optionally ',smoke' (4 steps; the tests run it under tfds.testing.mock_data).
"""

from configs import common

DEPTHS = (20, 32, 44, 56, 110)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_dataset(c) -> None:
  """CIFAR-10 from TFDS with pad-and-crop + flip augmentation and per-channel normalisation."""
  c.dataset.name = 'cifar10'
  c.dataset.image_size = 32
  c.dataset.augment = 'crop_flip'
  c.dataset.crop_padding = 4
  c.dataset.mean = CIFAR10_MEAN
  c.dataset.std = CIFAR10_STD
  c.dataset.shuffle_buffer = 50_000


def get_config(arg='20'):
  depth, _, smoke = (arg or '20').partition(',')
  if not depth.isdigit() or int(depth) not in DEPTHS:
    raise ValueError(f'cifar10_resnet arg must be one of {DEPTHS}, got {depth!r}')
  c = common.classification_config()
  cifar10_dataset(c)
  c.model.name = f'cifar_resnet{depth}'
  c.model.shortcut = 'A'
  common.optimize(c, 'sgd', 0.1, 'piecewise', weight_decay=1e-4, warmup_steps=400 if depth == '110' else 0,
                  boundaries=(32_000, 48_000), decay_factor=0.1)
  common.run_length(c, num_train_steps=64_000, batch_size=128, eval_batch_size=500, eval_every_steps=4_000,
                    log_every_steps=200)
  if smoke == 'smoke':
    common.smoke(c)
  return c
