import numpy as np
import pytest

from vision_jax.data.batching import num_batches, pad_batch, padded_batches, process_slice


def test_pad_batch_masks_padding_rows():
  batch = pad_batch({'image': np.ones((3, 2, 2, 1)), 'label': np.array([1, 2, 3])}, 5)
  assert batch['image'].shape == (5, 2, 2, 1)
  np.testing.assert_array_equal(batch['mask'], [1, 1, 1, 0, 0])
  np.testing.assert_array_equal(batch['label'], [1, 2, 3, 0, 0])


def test_padded_batches_fills_missing_batches_with_padding():
  short = iter([{'label': np.array([1, 2])}])
  batches = list(padded_batches(short, batch_size=4, count=3))
  assert len(batches) == 3
  assert [b['mask'].sum() for b in batches] == [2, 0, 0]


def test_padded_batches_rejects_empty_split():
  with pytest.raises(ValueError, match='empty'):
    list(padded_batches(iter([]), batch_size=4, count=1))


def test_process_slice_takes_contiguous_share():
  batch = {'label': np.arange(8)}
  np.testing.assert_array_equal(process_slice(batch, 1, 2)['label'], [4, 5, 6, 7])
  assert num_batches(360, 128) == 3
