"""CIFAR-10 VGG-16 with BatchNorm (Simonyan & Zisserman 2015; Ioffe & Szegedy 2015), CIFAR head.

  python launch.py --config=configs/cifar10_vgg16_bn.py --workdir=runs/cifar10_vgg16_bn

Reference: 92.64% test accuracy for VGG-16 in kuangliu/pytorch-cifar (BN after every conv, one
linear classifier, 200 epochs); Liu & Deng 2015 report 8.45% error for VGG-16 + BN + dropout.
Recipe: SGD momentum 0.9, weight decay 5e-4, batch 128, lr 0.1 with cosine decay over
200 epochs (78,200 steps), pad-and-crop + flip. Needs `tfds build cifar10`; not reproduced here.
arg: ',smoke' or 'smoke' runs 4 steps (the tests run it under tfds.testing.mock_data).
"""

from configs import common
from configs.cifar10_resnet import cifar10_dataset


def get_config(arg=None):
  c = common.classification_config()
  cifar10_dataset(c)
  c.model.name = 'vgg16_bn'
  c.model.head = 'cifar'
  common.optimize(c, 'sgd', 0.1, weight_decay=5e-4)
  common.run_length(c, num_train_steps=78_200, batch_size=128, eval_batch_size=500, eval_every_steps=3_910,
                    log_every_steps=200)
  if 'smoke' in common.options(arg):
    common.smoke(c)
  return c
