"""Keras applications models with random weights, converted from their .h5 files, give the same
outputs in Flax (max relative error <= 1e-4, float32). Keras comes with TensorFlow."""

import jax
import ml_collections
import numpy as np
import pytest

from vision_jax import models
from vision_jax.errors import UserError
from vision_jax.weights.pretrained import load_pretrained

keras = pytest.importorskip('keras')

# our model name, keras.applications constructor, input size
CASES = [('vgg16', 'VGG16', 224), ('resnet50_keras', 'ResNet50', 64), ('inception_v3_keras', 'InceptionV3', 139)]


def randomise_batch_norm(model, seed=0):
  """Random gamma/beta/moving statistics, so the conversion of each is exercised."""
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if 'variance' in v.path or 'gamma' in v.path
                         else rng.normal(0, 0.1, w.shape) for v, w in zip(layer.weights, layer.get_weights())])
  return model


@pytest.mark.parametrize('name, constructor, size', CASES)
def test_keras_reference_and_converted_flax_agree(tmp_path, name, constructor, size):
  keras.utils.set_random_seed(0)
  reference = randomise_batch_norm(getattr(keras.applications, constructor)(
      weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None))
  path = str(tmp_path / f'{name}.h5')
  reference.save(path)
  x = np.random.default_rng(0).normal(size=(2, size, size, 3)).astype(np.float32)
  expected = np.asarray(reference(x, training=False))
  model = models.build_model(ml_collections.ConfigDict({'name': name}), 10)
  variables = load_pretrained(path, name, model, (size, size, 3))
  logits, _ = jax.jit(lambda v, x: model.apply(v, x))(variables, x)
  assert float(np.max(np.abs(logits - expected)) / np.max(np.abs(expected))) <= 1e-4


def test_keras_file_for_a_model_without_keras_importer_is_named(tmp_path):
  path = tmp_path / 'w.h5'
  path.write_bytes(b'')
  model = models.build_model(ml_collections.ConfigDict({'name': 'resnet18'}), 10)
  with pytest.raises(UserError, match='Keras importers exist for models: inception_v3_keras, resnet50_keras'):
    load_pretrained(str(path), 'resnet18', model, (32, 32, 3))
