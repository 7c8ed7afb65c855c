"""The bundled digit scenes: deterministic, tight boxes, disjoint glyphs, resumable stream."""

import ml_collections
import numpy as np

from vision_jax.data.digit_scenes import DigitScenesSource, make_scene


def source(**overrides):
  config = ml_collections.ConfigDict({'channels': 1, 'mean': (0.0,), 'std': (1.0,), 'num_test_scenes': 10,
                                      **overrides})
  return DigitScenesSource(config, 4, 4, seed=0)


def test_scenes_are_deterministic_with_tight_boxes_around_bright_glyphs():
  for i in range(20):
    image, boxes, labels = make_scene(i, 'train')
    again = make_scene(i, 'train')
    np.testing.assert_array_equal(image, again[0])
    assert image.shape == (128, 128) and 1 <= len(labels) <= 6 and len(boxes) == len(labels)
    assert labels.min() >= 0 and labels.max() <= 9
    for ymin, xmin, ymax, xmax in (boxes * 128).astype(int):
      assert 0 <= ymin < ymax <= 128 and 0 <= xmin < xmax <= 128
      height, width = ymax - ymin, xmax - xmin
      assert 5 <= max(height, width) <= 48
      assert image[ymin:ymax, xmin:xmax].max() > 0.6  # the glyph is brighter than the background
  assert not np.array_equal(make_scene(0, 'train')[0], make_scene(0, 'test')[0])


def test_train_stream_resumes_and_eval_covers_the_test_set_once():
  stream = source().train_batches(0)
  batches = [next(stream) for _ in range(3)]
  resumed = next(source().train_batches(2))
  np.testing.assert_array_equal(resumed['image'], batches[2]['image'])
  np.testing.assert_array_equal(resumed['boxes'], batches[2]['boxes'])
  assert batches[0]['image'].shape == (4, 128, 128, 1) and batches[0]['boxes'].shape == (4, 6, 4)
  assert (batches[0]['box_valid'].sum(1) >= 1).all()
  evals = list(source().eval_batches())
  assert sum(int(b['mask'].sum()) for b in evals) == 10 and len(evals) == 3
