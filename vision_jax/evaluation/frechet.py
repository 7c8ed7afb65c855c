"""Fréchet distance (FID when the features are Inception-v3 pool3) and kernel inception distance
(KID) between two sets of feature vectors.

Statistics are float64 and the matrix square root is SciPy's, as in the reference
implementations (TTUR's fid.py, pytorch-fid), including their fallback of adding eps to the
diagonals when the product is singular and dropping a negligible imaginary part.
"""

import warnings

import numpy as np
from scipy import linalg


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(mean, covariance) of (N, D) features, in float64."""
  features = np.asarray(features, np.float64)
  return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
  """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))."""
  mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
  sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
  diff = mu1 - mu2
  with warnings.catch_warnings():  # a singular product is handled below, as the references do
    warnings.simplefilter('ignore', linalg.LinAlgWarning)
    # No `disp=False`: SciPy deprecated it (gone in 1.18) and with it a 1x1 input returns no error
    # estimate, so the references' two-value unpacking broke 1-D features.
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
  if not np.isfinite(covmean).all():
    offset = np.eye(sigma1.shape[0]) * eps
    covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
  if np.iscomplexobj(covmean):
    if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
      raise ValueError(f'imaginary component {np.max(np.abs(covmean.imag))} in the matrix square root')
    covmean = covmean.real
  return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_distance_of_features(a: np.ndarray, b: np.ndarray) -> float:
  """The Fréchet distance of two (N, D) feature sets: from their D x D statistics, or, with fewer
  samples than dimensions (a smoke run's 8 images against Inception's 2048 features), exactly from
  the samples (frechet_distance_of_few)."""
  if min(len(a), len(b)) <= np.shape(a)[1]:
    return frechet_distance_of_few(a, b)
  return frechet_distance(*feature_statistics(a), *feature_statistics(b))


def frechet_distance_of_few(a: np.ndarray, b: np.ndarray) -> float:
  """The same distance through the centred samples X (N1, D) and Y (N2, D): with S1 = X'X / (N1-1) and
  S2 = Y'Y / (N2-1), Tr (S1 S2)^(1/2) is the nuclear norm (sum of singular values) of X Y' /
  sqrt((N1-1)(N2-1)), an N1 x N2 matrix, since S1 S2 and that matrix's Gram share their non-zero
  eigenvalues. Exact, and it avoids the square root of a singular D x D product (seconds for D=2048)."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  x = (a - a.mean(0)) / np.sqrt(len(a) - 1)
  y = (b - b.mean(0)) / np.sqrt(len(b) - 1)
  diff = a.mean(0) - b.mean(0)
  nuclear = np.linalg.svd(x @ y.T, compute_uv=False).sum()
  return float(diff.dot(diff) + np.sum(x * x) + np.sum(y * y) - 2 * nuclear)


def kernel_distance(a: np.ndarray, b: np.ndarray, num_subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
  """KID (Bińkowski et al. 2018): unbiased MMD^2 with the kernel (x.y / D + 1)^3, averaged over
  random subsets; returns (mean, std)."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  rng = np.random.default_rng(seed)
  m = min(subset_size, len(a), len(b))
  d = a.shape[1]
  values = []
  for _ in range(num_subsets):
    x = a[rng.choice(len(a), m, replace=False)]
    y = b[rng.choice(len(b), m, replace=False)]
    kxx, kyy, kxy = [(p @ q.T / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y))]
    values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                  - 2 * kxy.mean())
  return float(np.mean(values)), float(np.std(values))
