import jax
import jax.numpy as jnp
import ml_collections
import pytest

from vision_jax import models
from vision_jax.errors import UserError


def count_params(variables):
  return sum(x.size for x in jax.tree.leaves(variables['params']))


def test_lenet5_has_the_classic_parameter_count():
  # conv1 156 + conv2 2,416 + fc1 48,120 + fc2 10,164 + head 850 = 61,706 (LeCun et al. 1998).
  model = models.build_model(ml_collections.ConfigDict({'name': 'lenet5'}), num_classes=10)
  variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))
  assert count_params(variables) == 61_706


def test_lenet5_returns_logits_and_named_features():
  model = models.build_model(ml_collections.ConfigDict({'name': 'lenet5', 'features': [8, 16]}), 3)
  variables = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 28, 28, 1)))
  logits, features = model.apply(variables, jnp.zeros((2, 28, 28, 1)))
  assert logits.shape == (2, 3)
  assert features['conv1'].shape == (2, 28, 28, 8) and features['pre_logits'].shape == (2, 84)


def test_unknown_model_and_bad_arguments_are_user_errors():
  with pytest.raises(UserError, match="unknown model 'resnet9'; choose one of: .*lenet5"):
    models.build_model(ml_collections.ConfigDict({'name': 'resnet9'}), 10)
  with pytest.raises(UserError, match="bad config.model for 'lenet5'"):
    models.build_model(ml_collections.ConfigDict({'name': 'lenet5', 'depth': 3}), 10)
  with pytest.raises(UserError, match="unknown model.dtype 'float16'"):
    models.build_model(ml_collections.ConfigDict({'name': 'lenet5', 'dtype': 'float16'}), 10)
