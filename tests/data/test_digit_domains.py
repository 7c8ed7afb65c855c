"""The bundled digits in two domains: fixed pairs, distinct looks, the digit kept."""

import numpy as np
from sklearn.linear_model import LogisticRegression

from vision_jax.data.digit_domains import load_digit_domains, render_domain_b, unpaired_halves


def test_pairs_are_fixed_and_shaped():
  a, b, labels = load_digit_domains('train')
  assert a.shape == (1437, 32, 32, 1) and b.shape == (1437, 32, 32, 3) and labels.shape == (1437,)
  assert a.min() >= 0 and a.max() <= 1 and b.min() >= 0 and b.max() <= 1
  # The rendering is keyed by the digit, not by its position in a batch or split.
  np.testing.assert_array_equal(render_domain_b(a[5:7], np.array([11, 12])),
                                render_domain_b(a[[5, 6]], np.array([11, 12])))
  assert not np.array_equal(render_domain_b(a[:1], np.array([11])), render_domain_b(a[:1], np.array([12])))


def test_domain_b_looks_different_but_keeps_the_digit():
  a, b, labels = load_digit_domains('train')
  a_test, b_test, labels_test = load_digit_domains('test')
  # Colours vary from digit to digit (background corners), and B is no grey copy of A.
  corners = b[:, :3, :3].reshape(len(b), -1, 3).mean(1)
  assert corners.std(0).min() > 0.05
  assert np.abs(b - a).mean() > 0.2
  # The stroke is where A's stroke is: B's distance from its own corner colour follows A.
  distance = np.linalg.norm(b - corners[:, None, None, :], axis=-1)
  correlation = np.corrcoef(distance.reshape(-1), a[..., 0].reshape(-1))[0, 1]
  assert correlation > 0.8, correlation
  # A linear classifier trained on B reads the digits of unseen B images.
  classifier = LogisticRegression(max_iter=300).fit(b.reshape(len(b), -1), labels)
  assert classifier.score(b_test.reshape(len(b_test), -1), labels_test) > 0.85


def test_unpaired_halves_are_disjoint_and_cover_everything():
  first, second = unpaired_halves(1437)
  assert len(first) == 718 and len(second) == 719
  assert not set(first) & set(second) and len(set(first) | set(second)) == 1437


def test_pairs_source_batches_carry_the_target_of_the_same_digit():
  import ml_collections
  from vision_jax.data import build_source
  config = ml_collections.ConfigDict({'name': 'digit_domains', 'domain': 'pairs', 'mean': (0.5,), 'std': (0.5,)})
  source = build_source(config, 8, 16, seed=0)
  a, b, labels = load_digit_domains('train')
  batch = next(source.train_batches(3))
  assert batch['image'].shape == (8, 32, 32, 1) and batch['target'].shape == (8, 32, 32, 3)
  # Each target is the B rendering of its own A digit.
  index = [int(np.flatnonzero((a == (x * 0.5 + 0.5)).all(axis=(1, 2, 3)))[0]) for x in batch['image']]
  np.testing.assert_allclose(batch['target'] * 0.5 + 0.5, b[index], atol=1e-6)
  np.testing.assert_array_equal(batch['label'], labels[index])
  evaluation = list(source.eval_batches())
  assert sum(int(e['mask'].sum()) for e in evaluation) == 360 and evaluation[0]['target'].shape == (16, 32, 32, 3)
  config.domain = 'b'
  assert build_source(config, 8, 16, seed=0).image_shape == (32, 32, 3)
