"""CycleGAN's image pool against a plain-Python rendering of the reference ImagePool.query."""

import jax
import jax.numpy as jnp
import numpy as np

from vision_jax.generative.image_pool import empty_pool, query


def reference_query(stored: list, fakes: np.ndarray, draws: list[tuple[float, int]], capacity: int) -> list:
  """util/image_pool.py's query, with its random draws (uniform, slot) given instead of drawn."""
  returned = []
  for fake, (u, slot) in zip(fakes, draws):
    if len(stored) < capacity:
      stored.append(fake)
      returned.append(fake)
    elif u > 0.5:
      returned.append(stored[slot].copy())
      stored[slot] = fake
    else:
      returned.append(fake)
  return returned


def draws_of(rng, count: int, capacity: int) -> list[tuple[float, int]]:
  """The (uniform, slot) pairs `query` draws for `count` fakes from `rng`, in the same order."""
  out = []
  for key in jax.random.split(rng, count):
    swap_key, slot_key = jax.random.split(key)
    out.append((float(jax.random.uniform(swap_key)), int(jax.random.randint(slot_key, (), 0, capacity))))
  return out


def test_pool_matches_the_reference_over_many_batches():
  capacity, batch = 5, 3
  pool, stored = empty_pool(capacity, (2, 2, 1)), []
  step = jax.jit(query)
  swapped = 0
  for i in range(12):
    fakes = np.full((batch, 2, 2, 1), i, np.float32) + np.arange(batch, dtype=np.float32)[:, None, None, None] / 10
    rng = jax.random.PRNGKey(i)
    pool, returned = step(pool, jnp.asarray(fakes), rng)
    expected = reference_query(stored, fakes, draws_of(rng, batch, capacity), capacity)
    np.testing.assert_array_equal(np.asarray(returned), np.stack(expected))
    swapped += int(np.sum(np.asarray(returned)[:, 0, 0, 0] != fakes[:, 0, 0, 0]))
  np.testing.assert_array_equal(np.asarray(pool.images), np.stack(stored))
  assert int(pool.count) == capacity
  assert 0 < swapped < 12 * batch  # once full, some but not all come from the history


def test_while_filling_every_fake_is_returned_and_kept():
  pool = empty_pool(8, (1, 1, 1))
  fakes = jnp.arange(4, dtype=jnp.float32).reshape(4, 1, 1, 1)
  pool, returned = query(pool, fakes, jax.random.PRNGKey(0))
  np.testing.assert_array_equal(returned, fakes)
  np.testing.assert_array_equal(pool.images[:4], fakes)
  assert int(pool.count) == 4


def test_capacity_zero_passes_fakes_through():
  fakes = jnp.ones((2, 1, 1, 1))
  pool, returned = query(empty_pool(0, (1, 1, 1)), fakes, jax.random.PRNGKey(0))
  np.testing.assert_array_equal(returned, fakes)
