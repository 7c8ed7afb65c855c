"""Model registry: `build_model(config.model, num_classes)` looks up `config.model.name`."""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from vision_jax.errors import UserError
from vision_jax.models.lenet import LeNet5
from vision_jax.registry import Registry

MODELS: Registry[type[nn.Module]] = Registry('model')
MODELS.register('lenet5')(LeNet5)

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def compute_dtype(name: str) -> Any:
  """The jnp dtype for `config.model.dtype`; parameters always stay float32."""
  if name not in DTYPES:
    raise UserError(f'unknown model.dtype {name!r}; choose one of: {", ".join(DTYPES)}')
  return DTYPES[name]


def build_model(model_config, num_classes: int) -> nn.Module:
  """Instantiates the registered model; every other key of model_config is a constructor arg."""
  kwargs = {k: v for k, v in model_config.items() if k not in ('name', 'dtype')}
  kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
  model_cls = MODELS.get(model_config.name)
  try:
    return model_cls(num_classes=num_classes, dtype=compute_dtype(model_config.get('dtype', 'float32')),
                     **kwargs)
  except TypeError as e:
    raise UserError(f'bad config.model for {model_config.name!r}: {e}') from None
