"""Input-pipeline throughput: JPEG decode + the project's own train augmentation, in tf.data.

The photos are the offline ones (scikit-image's astronaut, coffee, chelsea; scikit-learn's china
and flower), JPEG-encoded at ImageNet/VOC-like sizes. 'classification' is the ImageNet recipe
(configs/imagenet_resnet50.py: inception crop, flip, normalise to 224); 'detection' is SSD300's
(configs/voc_ssd.py: photometric distortion, expand, min-IoU crop, flip, resize to 300, boxes
padded). 'folder' is 'classification' read from JPEG files in class folders on disk, through the
image_folder source's own read + decode (vision_jax/data/file_sources.py). Measured with one tf.data
thread (images/s per core) and with all cores.
"""

import os
import tempfile
import time

import numpy as np

PIPELINES = ('classification', 'detection', 'folder')


def photos() -> list[np.ndarray]:
  import skimage.data
  from sklearn.datasets import load_sample_images
  images = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
  return images + list(load_sample_images().images)


def jpeg_bytes(count: int = 20) -> list[bytes]:
  """`count` JPEGs (quality 90), photos rescaled so the shorter side is 375-500 px as in ImageNet/VOC."""
  import tensorflow as tf
  out, base = [], photos()
  for i in range(count):
    image = base[i % len(base)]
    scale = (375 + 125 * (i % 5) / 4) / min(image.shape[:2])
    size = [int(round(image.shape[0] * scale)), int(round(image.shape[1] * scale))]
    resized = tf.cast(tf.image.resize(image, size), tf.uint8)
    out.append(tf.io.encode_jpeg(resized, quality=90).numpy())
  return out


def _classification_fn(seed: int):
  import importlib
  import tensorflow as tf
  from vision_jax.data.tfds_source import preprocess_fn
  config = importlib.import_module('configs.imagenet_resnet50').get_config(None).dataset
  augment = preprocess_fn(config, config.image_size, train=True, seed=seed)

  def fn(index, data):
    return augment(index, {'image': tf.io.decode_jpeg(data, channels=3), 'label': tf.constant(0, tf.int64)})
  return fn


def _detection_fn(seed: int):
  import importlib
  import tensorflow as tf
  from vision_jax.data.tfds_detection import ssd_train_fn
  config = importlib.import_module('configs.voc_ssd').get_config('ssd300').dataset
  augment = ssd_train_fn(config, seed, np.asarray(config.mean, np.float32), np.asarray(config.std, np.float32),
                         config.get('max_boxes', 100))
  boxes = tf.constant([[0.1, 0.1, 0.5, 0.4], [0.3, 0.5, 0.9, 0.95], [0.6, 0.05, 0.95, 0.3]], tf.float32)

  def fn(index, data):
    example = {'image': tf.io.decode_jpeg(data, channels=3), 'boxes': boxes, 'labels': tf.constant([1, 7, 14]),
               'difficult': tf.zeros((3,), tf.bool)}
    return augment(index, example)
  return fn


def jpeg_folder(root: str, count: int = 20) -> list[str]:
  """jpeg_bytes written as root/<class>/<i>.jpg (two classes); returns the paths."""
  paths = []
  for i, data in enumerate(jpeg_bytes(count)):
    paths.append(os.path.join(root, f'class{i % 2}', f'{i:03d}.jpg'))
    os.makedirs(os.path.dirname(paths[-1]), exist_ok=True)
    with open(paths[-1], 'wb') as f:
      f.write(data)
  return paths


def _folder_fn(seed: int):
  import importlib
  import tensorflow as tf
  from vision_jax.data.file_sources import read_image
  from vision_jax.data.tfds_source import preprocess_fn
  config = importlib.import_module('configs.imagenet_resnet50').get_config(None).dataset
  augment = preprocess_fn(config, config.image_size, train=True, seed=seed)

  def fn(index, path):
    return augment(index, {'image': read_image(path, 3), 'label': tf.constant(0, tf.int64)})
  return fn


def throughput(pipeline: str, threads: int, batch: int = 32, batches: int = 20, warmup: int = 3) -> float:
  """Images/s of decode + augment + batch, on `threads` tf.data threads."""
  import tensorflow as tf
  fn = {'classification': _classification_fn, 'detection': _detection_fn, 'folder': _folder_fn}[pipeline](seed=0)
  if pipeline == 'folder':
    with tempfile.TemporaryDirectory() as root:
      elements = jpeg_folder(root)
      return _timed(tf.data.Dataset.from_tensor_slices(elements), fn, threads, batch, batches, warmup)
  return _timed(tf.data.Dataset.from_tensor_slices(jpeg_bytes()), fn, threads, batch, batches, warmup)


def _timed(elements, fn, threads: int, batch: int, batches: int, warmup: int) -> float:
  import tensorflow as tf
  ds = elements.repeat().enumerate()
  ds = ds.map(fn, num_parallel_calls=threads).batch(batch).prefetch(2)
  options = tf.data.Options()
  options.threading.private_threadpool_size = threads
  options.autotune.enabled = False
  iterator = iter(ds.with_options(options))
  for _ in range(warmup):
    next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batch * batches / (time.perf_counter() - start)


def benchmark(pipeline: str, batches: int, batch: int = 32) -> dict:
  cores = os.cpu_count() or 1
  one = throughput(pipeline, 1, batch=batch, batches=batches)
  result = {'images_per_sec_per_core': one, 'cores': cores}
  if cores > 1:
    result['images_per_sec_all_cores'] = throughput(pipeline, cores, batch=batch, batches=batches)
  return result
