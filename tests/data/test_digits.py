import numpy as np

from sklearn.datasets import load_digits

from vision_jax.data.arrays import ArraySource, random_shifts, stratified_split
from vision_jax.data.digits import digits_source, load_digits_split
from vision_jax.data.faces import faces_source, load_faces_split
from configs import common


def digits(batch=32, eval_batch=64, process_index=0, process_count=1, **overrides):
  config = common.classification_config().dataset
  config.update(overrides)
  return digits_source(config, batch, eval_batch, seed=0, process_index=process_index,
                       process_count=process_count)


def test_split_is_fixed_stratified_1437_360():
  train_x, train_y = load_digits_split('train')
  test_x, test_y = load_digits_split('test')
  assert len(train_y) == 1437 and len(test_y) == 360
  assert train_x.shape[1:] == (8, 8, 1) and 0.0 <= train_x.min() and train_x.max() <= 1.0
  counts = np.bincount(test_y, minlength=10)
  assert counts.min() >= 35 and counts.max() <= 37  # stratified: 36 per class +- 1
  indices = stratified_split(load_digits().target, 360)
  assert not set(indices['train']) & set(indices['test'])
  assert len(set(indices['train']) | set(indices['test'])) == 1797


def test_resize_keeps_value_range_and_shape():
  images, _ = load_digits_split('test', image_size=28)
  assert images.shape == (360, 28, 28, 1)
  assert images.min() >= -1e-6 and images.max() <= 1 + 1e-6


def test_train_stream_is_a_function_of_step():
  source = digits()
  from_zero = source.train_batches(0)
  batches = [next(from_zero) for _ in range(50)]  # crosses an epoch boundary (44 per epoch)
  resumed = next(source.train_batches(47))
  np.testing.assert_array_equal(resumed['image'], batches[47]['image'])
  np.testing.assert_array_equal(resumed['label'], batches[47]['label'])
  assert not np.array_equal(batches[0]['label'], batches[44]['label'])  # reshuffled per epoch


def test_processes_split_each_global_batch():
  whole = next(digits(batch=32).train_batches(3))
  halves = [next(digits(batch=32, process_index=p, process_count=2).train_batches(3)) for p in (0, 1)]
  np.testing.assert_array_equal(np.concatenate([h['label'] for h in halves]), whole['label'])


def test_eval_covers_every_example_exactly_once_across_processes():
  for process_count in (1, 2, 4):
    labels = []
    for p in range(process_count):
      for batch in digits(eval_batch=64, process_index=p, process_count=process_count).eval_batches():
        labels.append(batch['label'][batch['mask'] == 1])
    got = np.sort(np.concatenate(labels))
    np.testing.assert_array_equal(got, np.sort(load_digits_split('test')[1]))


def test_random_shifts_move_content_without_changing_mass():
  image = np.zeros((1, 6, 6, 1), np.float32)
  image[0, 2:4, 2:4] = 1.0
  shifted = random_shifts(np.repeat(image, 20, 0), 1, np.random.default_rng(0))
  assert np.allclose(shifted.sum(axis=(1, 2, 3)), 4.0)
  assert len({s.tobytes() for s in shifted}) > 1


def test_array_source_normalises_with_config_mean_std():
  x = np.ones((4, 2, 2, 1), np.float32)
  y = np.arange(4, dtype=np.int32)
  source = ArraySource((x, y), (x, y), 4, 2, 2, seed=0, mean=0.5, std=0.25)
  assert np.allclose(next(source.eval_batches())['image'], 2.0)


def test_faces_are_a_fixed_stratified_140_60_split_of_lfw_subset():
  train_x, train_y = load_faces_split('train')
  test_x, test_y = load_faces_split('test')
  assert train_x.shape == (140, 25, 25, 1) and test_x.shape == (60, 25, 25, 1)
  assert np.bincount(train_y).tolist() == [70, 70] and np.bincount(test_y).tolist() == [30, 30]
  few_x, few_y = load_faces_split('train', 32, 3, per_class=5, seed=1)
  assert few_x.shape == (10, 32, 32, 3) and np.bincount(few_y).tolist() == [5, 5]
  config = common.classification_config().dataset
  config.update(name='lfw_faces', image_size=0)
  source = faces_source(config, 10, 32, seed=0, process_index=0, process_count=1)
  assert source.num_classes == 2 and source.image_shape == (25, 25, 1)
  assert sum(int(b['mask'].sum()) for b in source.eval_batches()) == 60
