"""Neural style by optimisation (Gatys et al. 2016): the content photo, repainted with the textures
of the style photo, by Adam on the pixels against a frozen ImageNet classifier's features.

  python launch.py --config=configs/neural_style.py --config.content=skimage:chelsea \\
      --config.style=sklearn:flower --workdir=runs/neural_style

Any image path works for both (or skimage:NAME, sklearn:china / sklearn:flower). Writes
WORKDIR/stylised.png, WORKDIR/samples/ (content, style, result) and WORKDIR/stylised_top5.json
(the classifier's top 5 on the result). The eval line carries content_loss, style_loss and tv_loss
of the result and of the start (`*_start`, the content photo itself) and content_class_kept: 1 when
the content photo's top-1 ImageNet class is still in the result's top 5 (chelsea: a cat).

Departure from the paper, said plainly: Gatys et al. use VGG-19 (content conv4_2; style conv1_1,
conv2_1, conv3_1, conv4_1, conv5_1) and L-BFGS. Offline, the ImageNet network that ships here is
EfficientNet-Lite0, so its stage outputs serve (content stage5, style stage1-5) and Adam optimises.
`:vgg19` is the paper's network and layers (content conv4_2; style conv1_1, conv2_1, conv3_1,
conv4_1, conv5_1; ImageNet mean/std): give torchvision's VGG-19 file as
`--config.init_from=vgg19-dcbbb691.pth` (through the existing importer). No VGG-19 weights ship here,
so that path has not been run.
`:smoke` runs 4 steps at 64 x 64.
"""

from configs import common
from configs.voc_ssd import IMAGENET_MEAN, IMAGENET_STD


def get_config(arg=None):
  c = common.neural_style_config(image_size=224)
  options = common.options(arg, ('smoke', 'vgg19'))
  if 'vgg19' in options:
    c.init_from = ''                 # torchvision's vgg19-dcbbb691.pth: required
    c.neural_style.network = 'vgg19'
    c.neural_style.content_layer = 'conv4_2'
    c.neural_style.style_layers = ('conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', 'conv5_1')
    c.dataset.mean, c.dataset.std = IMAGENET_MEAN, IMAGENET_STD
  if 'smoke' in options:
    c.dataset.image_size = 64
    common.run_length(c, num_train_steps=4, batch_size=1, eval_batch_size=1, eval_every_steps=4, log_every_steps=2)
  return c
