"""ImageNet (ILSVRC-2012) ResNet-50 v1.5 (He et al. 2016; torchvision/NVIDIA v1.5 layout).

  python launch.py --config=configs/imagenet_resnet50.py --workdir=runs/imagenet_resnet50

Target: at least 76.1% top-1 on the validation set (torchvision's ResNet-50 v1.5: 76.13%;
the Flax ImageNet example reports 76.3-76.5% for the same recipe).
Recipe: 90 epochs of batch 1024 (112,590 steps), SGD Nesterov momentum 0.9, weight decay 1e-4 on
kernels, lr 0.1 x batch/256 with 5 warmup epochs then cosine decay, label smoothing 0.1, the last
BN of each block zero-initialised, bfloat16 compute; train: inception random-resized crop to 224
+ flip; eval: resize to 256 and center crop 224. Needs ImageNet prepared for TFDS (manual
download, `tfds build imagenet2012`); not reproduced on this project's machines.
arg: 'smoke' runs 4 steps at 64x64 (the tests run it under tfds.testing.mock_data).
"""

from configs import common

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TRAIN_EXAMPLES = 1_281_167


def get_config(arg=None):
  c = common.classification_config()
  c.dataset.name = 'imagenet2012'
  c.dataset.eval_split = 'validation'
  c.dataset.image_size = 224
  c.dataset.augment = 'inception_crop_flip'
  c.dataset.eval_preprocess = 'center_crop'
  c.dataset.crop_fraction = 0.875
  c.dataset.mean = IMAGENET_MEAN
  c.dataset.std = IMAGENET_STD
  c.model.name = 'resnet50'
  c.model.dtype = 'bfloat16'
  c.model.zero_init_last_bn = True
  c.label_smoothing = 0.1
  batch_size = 1024
  steps_per_epoch = TRAIN_EXAMPLES // batch_size
  common.optimize(c, 'sgd', 0.1 * batch_size / 256, weight_decay=1e-4, warmup_steps=5 * steps_per_epoch)
  c.optimizer.nesterov = True
  common.run_length(c, num_train_steps=90 * steps_per_epoch, batch_size=batch_size, eval_batch_size=1000,
                    eval_every_steps=5 * steps_per_epoch, checkpoint_every_steps=steps_per_epoch)
  if 'smoke' in common.options(arg):
    common.smoke(c)
    c.model.dtype = 'float32'
    c.dataset.image_size = 64
    c.batch_size = 8
    c.eval_batch_size = 8
  return c
