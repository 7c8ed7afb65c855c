"""Fréchet/kernel distances against direct computations, GAN losses and penalties by hand, DCGAN shapes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import linalg

from vision_jax.errors import UserError
from vision_jax.evaluation.frechet import frechet_distance_of_features, kernel_distance
from vision_jax.generative import losses
from vision_jax.models.dcgan import Discriminator, Generator


def features(seed, n=400, d=16, shift=0.0, distribution=0):
  """Samples (seeded by `seed`) of a Gaussian whose covariance is fixed by `distribution`."""
  mixing = np.random.default_rng([distribution, 99]).normal(size=(d, d)) * 0.3
  return np.random.default_rng(seed).normal(size=(n, d)) @ mixing + shift


def test_frechet_distance_of_a_set_with_itself_is_zero():
  x = features(0)
  assert abs(frechet_distance_of_features(x, x)) < 1e-6


def test_frechet_distance_agrees_with_a_direct_scipy_computation_and_ignores_order():
  a, b = features(1), features(2, shift=0.5)
  mu1, mu2 = a.mean(0), b.mean(0)
  s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  direct = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
  assert frechet_distance_of_features(a, b) == pytest.approx(direct, rel=1e-9)
  shuffled = np.random.default_rng(3).permutation(a)
  assert frechet_distance_of_features(shuffled, b) == pytest.approx(direct, rel=1e-9)


@pytest.mark.parametrize('n1, n2', [(8, 8), (12, 30)])
def test_frechet_distance_of_fewer_samples_than_dimensions_agrees_with_scipys_square_root(n1, n2):
  # The nuclear-norm path (a smoke run's 8 images of 2048 features: two 2048 x 2048 sqrtm took 35 s).
  a, b = features(8, n=n1, d=48), features(9, n=n2, d=48, shift=0.3)
  mu1, mu2 = a.mean(0), b.mean(0)
  s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  direct = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
  assert frechet_distance_of_features(a, b) == pytest.approx(direct, rel=1e-6)


def test_frechet_distance_of_one_dimensional_features_is_the_gaussian_formula():
  # issue #15 item 14: 1-D features crashed (SciPy's sqrtm(disp=False) returns a bare 1x1 matrix).
  a, b = features(6, d=1), features(7, d=1, shift=1.0)
  mu1, mu2, s1, s2 = a.mean(), b.mean(), a.var(ddof=1), b.var(ddof=1)
  assert frechet_distance_of_features(a, b) == pytest.approx((mu1 - mu2) ** 2 + s1 + s2 - 2 * np.sqrt(s1 * s2), rel=1e-9)


def test_kernel_distance_is_near_zero_for_one_distribution_and_positive_for_two():
  same, _ = kernel_distance(features(4), features(5), num_subsets=20, subset_size=200)
  different, _ = kernel_distance(features(4), features(5, shift=1.0), num_subsets=20, subset_size=200)
  assert abs(same) < 0.05 < different


def test_losses_by_hand():
  real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
  sp = lambda x: np.log1p(np.exp(x))
  assert losses.non_saturating_d(real, fake) == pytest.approx(np.mean(sp(-np.array([2., -1.]))) + np.mean(sp(np.array([.5, -3.]))), rel=1e-6)
  assert losses.non_saturating_g(fake) == pytest.approx(np.mean(sp(-np.array([.5, -3.]))), rel=1e-6)
  assert losses.hinge_d(real, fake) == pytest.approx((0 + 2) / 2 + (1.5 + 0) / 2)
  assert losses.wasserstein_d(real, fake) == pytest.approx(-1.25 - 0.5)


def test_penalties_on_a_linear_critic():
  w = jnp.array([3.0, 4.0])  # ||dD/dx|| = 5 everywhere
  critic = lambda x: x.reshape(x.shape[0], -1) @ w
  real, fake = jnp.ones((4, 2)), jnp.zeros((4, 2))
  assert losses.gradient_penalty(critic, real, fake, jax.random.PRNGKey(0)) == pytest.approx(16.0, rel=1e-5)
  assert losses.r1_penalty(critic, real) == pytest.approx(25.0, rel=1e-5)


@pytest.mark.parametrize('size, channels, conditional, spectral', [(32, 1, 0, False), (64, 3, 10, True)])
def test_dcgan_shapes_init_and_conditioning(size, channels, conditional, spectral):
  g = Generator(image_size=size, channels=channels, num_classes=conditional)
  d = Discriminator(image_size=size, num_classes=conditional, spectral_norm=spectral)
  z, labels = jnp.ones((2, 100)), jnp.array([1, 2])
  g_vars = jax.jit(g.init)(jax.random.PRNGKey(0), z, labels)  # jitted: run op by op they take 3x longer
  images, _ = jax.jit(functools.partial(g.apply, mutable=['batch_stats']))(g_vars, z, labels)
  assert images.shape == (2, size, size, channels) and float(jnp.abs(images).max()) <= 1.0
  d_vars = jax.jit(d.init)(jax.random.PRNGKey(1), images, labels)
  logits, _ = jax.jit(functools.partial(d.apply, mutable=['batch_stats']))(d_vars, images, labels)
  assert logits.shape == (2,)
  kernel = np.asarray(g_vars['params']['up1']['kernel'])
  assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002


def test_unsupported_image_size_is_a_user_error():
  with pytest.raises(UserError, match=r'DCGAN supports image sizes \(32, 64\), got 48'):
    Generator(image_size=48).init(jax.random.PRNGKey(0), jnp.ones((1, 8)))
