"""CycleGAN's history of generated images (Shrivastava et al. 2017; Zhu et al. 2017, util/image_pool.py):
the discriminator is shown, for each new fake, either that fake or, half the time once the pool is
full, a stored older fake (which the new one then replaces). Fixed shapes, pure jnp, so the pool
lives in the train state (and so in checkpoints: resume is exact)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class ImagePool(NamedTuple):
  images: jax.Array  # (capacity, H, W, C)
  count: jax.Array   # int32: how many slots hold an image


def empty_pool(capacity: int, image_shape: tuple[int, ...]) -> ImagePool:
  return ImagePool(jnp.zeros((capacity, *image_shape), jnp.float32), jnp.zeros((), jnp.int32))


def query(pool: ImagePool, fakes: jax.Array, rng: jax.Array) -> tuple[ImagePool, jax.Array]:
  """(new pool, images for the discriminator) for a batch of new fakes, one at a time as the
  reference: while the pool fills, each fake is stored and returned; then with probability 0.5 a
  random stored image is returned and the fake takes its slot, else the fake itself is returned."""
  capacity = pool.images.shape[0]
  if capacity == 0:  # pool_size 0: the reference returns the fakes as they are
    return pool, fakes

  def one(pool: ImagePool, inputs):
    fake, key = inputs
    swap_key, slot_key = jax.random.split(key)
    filling = pool.count < capacity
    swap = jnp.logical_and(~filling, jax.random.uniform(swap_key) > 0.5)
    slot = jnp.where(filling, pool.count, jax.random.randint(slot_key, (), 0, capacity))
    returned = jnp.where(swap, pool.images[slot], fake)
    stored = jnp.where(jnp.logical_or(filling, swap), fake, pool.images[slot])
    new_pool = ImagePool(pool.images.at[slot].set(stored), jnp.minimum(pool.count + 1, capacity))
    return new_pool, returned

  return jax.lax.scan(one, pool, (fakes, jax.random.split(rng, fakes.shape[0])))
