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
The network is any zoo classifier whose feature dict holds the named layers: the paper's setting
would be `--config.neural_style.network=vgg19 --config.init_from=vgg19-dcbbb691.pth` (torchvision's
file, through the existing importer), `content_layer=conv4_2`, `style_layers` conv1_1 ... conv5_1 and
ImageNet mean/std in `dataset.mean`/`dataset.std`; no VGG-19 weights ship here, so that path has not
been run.
`:smoke` runs 4 steps at 64 x 64.
"""

from configs import common


def get_config(arg=None):
  c = common.neural_style_config(image_size=224)
  if 'smoke' in common.options(arg):
    c.dataset.image_size = 64
    common.run_length(c, num_train_steps=4, batch_size=1, eval_batch_size=1, eval_every_steps=4, log_every_steps=2)
  return c
