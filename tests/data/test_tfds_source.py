"""The TFDS source under tfds.testing.mock_data (real tf.data code path, random examples)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from configs import common
from vision_jax.data import build_source
from vision_jax.errors import UserError


def dataset_config(**overrides):
  c = common.classification_config().dataset
  c.update({'name': 'cifar10', 'shuffle_buffer': 32, **overrides})
  return c


def test_resumed_stream_continues_exactly_where_it_stopped():
  with tfds.testing.mock_data(num_examples=40):
    source = build_source(dataset_config(augment='crop_flip'), 8, 8, seed=3)
    stream = source.train_batches(0)
    batches = [next(stream) for _ in range(7)]  # 56 examples: crosses an epoch of 40
    resumed = next(build_source(dataset_config(augment='crop_flip'), 8, 8, seed=3).train_batches(6))
  np.testing.assert_array_equal(resumed['image'], batches[6]['image'])
  np.testing.assert_array_equal(resumed['label'], batches[6]['label'])
  assert batches[0]['image'].shape == (8, 32, 32, 3) and batches[0]['image'].dtype == np.float32


def test_eval_pads_the_last_batch_and_masks_it():
  with tfds.testing.mock_data(num_examples=21):
    source = build_source(dataset_config(), 8, 8, seed=0)
    batches = list(source.eval_batches())
  assert source.num_eval_examples == 21 and source.num_classes == 10
  assert [b['mask'].sum() for b in batches] == [8, 8, 5]
  assert all(b['image'].shape == (8, 32, 32, 3) for b in batches)


def test_resize_and_unknown_augmentation():
  with tfds.testing.mock_data(num_examples=8):
    source = build_source(dataset_config(name='mnist', image_size=32), 4, 4, seed=0)
    assert source.image_shape == (32, 32, 1)
    assert next(source.train_batches())['image'].shape == (4, 32, 32, 1)
    with pytest.raises(UserError, match="unknown dataset.augment 'mixup'"):
      build_source(dataset_config(augment='mixup'), 4, 4, seed=0)


def test_imagenet_style_pipeline_crops_train_and_center_crops_eval():
  with tfds.testing.mock_data(num_examples=8):
    config = dataset_config(name='imagenet2012', eval_split='validation', image_size=48,
                            augment='inception_crop_flip', eval_preprocess='center_crop',
                            mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    source = build_source(config, 4, 4, seed=0)
    train, evaluation = next(source.train_batches()), next(source.eval_batches())
  assert source.image_shape == (48, 48, 3) and source.num_classes == 1000
  assert train['image'].shape == (4, 48, 48, 3) and evaluation['image'].shape == (4, 48, 48, 3)
  with pytest.raises(UserError, match="unknown dataset.eval_preprocess 'crop'"):
    build_source(dataset_config(eval_preprocess='crop'), 4, 4, seed=0)


def test_mean_and_std_must_fit_the_datasets_channels():
  # issue #15 item 5: a 3-value mean on 1-channel MNIST broadcast into 3-channel inputs.
  with tfds.testing.mock_data(num_examples=8):
    with pytest.raises(UserError, match=r'config.dataset.mean has 3 values for 1-channel images: give 1 value '
                                        r'or 1 \(TFDS mnist\)'):
      build_source(dataset_config(name='mnist', mean=(0.1, 0.2, 0.3)), 4, 4, seed=0)
