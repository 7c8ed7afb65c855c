"""Neural-style losses: the Gram matrix by its definition, and what each loss sees."""

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.generative.style_losses import content_loss, gram_matrix, style_loss, total_variation


def test_gram_matrix_by_its_definition():
  features = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
  expected = np.zeros((2, 5, 5))
  for b in range(2):
    for i in range(5):
      for j in range(5):
        expected[b, i, j] = np.sum(features[b, :, :, i] * features[b, :, :, j]) / (5 * 3 * 4)
  np.testing.assert_allclose(gram_matrix(jnp.asarray(features)), expected, rtol=1e-5)


def test_style_ignores_layout_content_does_not():
  features = jax.random.normal(jax.random.PRNGKey(0), (1, 6, 6, 4))
  shuffled = features.reshape(1, 36, 4)[:, jax.random.permutation(jax.random.PRNGKey(1), 36)].reshape(1, 6, 6, 4)
  target = gram_matrix(features)
  assert float(style_loss([shuffled], [target], [1.0])) < 1e-10
  assert float(content_loss(shuffled, features)) > 0.1
  other = jax.random.normal(jax.random.PRNGKey(2), (1, 6, 6, 4)) * 2
  assert float(style_loss([other], [target], [1.0])) > 0.1
  # Weights scale each layer's term.
  np.testing.assert_allclose(style_loss([other, other], [target, target], [1.0, 3.0]),
                             4 * style_loss([other], [target], [1.0]), rtol=1e-6)


def test_total_variation_is_zero_on_flat_images_only():
  assert float(total_variation(jnp.ones((1, 5, 5, 3)))) == 0.0
  stripes = jnp.tile(jnp.array([0.0, 1.0]), 3).reshape(1, 1, 6, 1).repeat(6, axis=1)
  np.testing.assert_allclose(total_variation(stripes), 1.0)
