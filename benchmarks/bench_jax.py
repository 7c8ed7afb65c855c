"""JAX side of the benchmark: vision_jax's own train and eval steps on synthetic device-resident
batches (no TensorFlow), jitted as the trainer jits them (replicated state, batch sharded over
the 'data' mesh, donated state)."""

import functools
import time
import types

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import timing
from benchmarks.specs import Spec
from configs import common
from vision_jax import models
from vision_jax.detection.families import build_detector
from vision_jax.generative import METHODS
from vision_jax.generative.state import apply_ema, create_state
from vision_jax.tasks import classification, detection
from vision_jax.train import parallel
from vision_jax.train.optimizers import create_optimizer
from vision_jax.train.state import create_train_state


def classifier_parts(spec: Spec, dtype: str, conv_impl: str = 'xla'):
  """(model, train_step, eval_fn, optimizer) for a zoo classifier, SGD with momentum 0.9, no decay."""
  config = common.classification_config()
  config.model.name, config.model.dtype, config.model.conv_impl = spec.jax_model, dtype, conv_impl
  model = models.build_model(config.model, spec.num_classes)
  lr_fn = lambda step: 0.01
  tx = create_optimizer(config.optimizer, lr_fn)
  create = lambda rng: create_train_state(rng, model, tx, spec.shape)
  eval_fn = lambda state, images: model.apply(state.variables(), images, train=False)[0]
  return create, classification.make_train_step(model, lr_fn), eval_fn


def detector_parts(spec: Spec, dtype: str, conv_impl: str = 'xla'):
  """The detector as its config builds it (SSD300-VGG16: configs/voc_ssd.py:ssd300; Faster R-CNN:
  configs/coco_faster_rcnn.py), with the config's frozen layers; eval decodes and runs NMS."""
  config = spec.config()
  config.model.dtype, config.model.conv_impl = dtype, conv_impl
  detector = build_detector(config, spec.num_classes, spec.shape)
  lr_fn = lambda step: 1e-3
  tx = create_optimizer(config.optimizer, lr_fn)
  create = lambda rng: create_train_state(rng, detector.model, tx, spec.shape)
  eval_fn = lambda state, images: detector.postprocess(detector.model.apply(state.variables(), images, train=False))
  train_step = detection.make_train_step(detector, lr_fn, config.freeze, config.freeze_batch_stats)
  return create, train_step, eval_fn


def gan_parts(spec: Spec, dtype: str, conv_impl: str = 'xla'):
  """DCGAN 64x64 (G 512-256-128-64, D 64-128-256-512), non-saturating loss, Adam 2e-4/0.5; eval
  samples images from noise."""
  config = common.gan_config(64)
  config.gan.conv_impl = conv_impl   # DCGAN's networks take it (no model block in GAN configs)
  config.gan.g_widths, config.gan.d_widths = (512, 256, 128, 64), (64, 128, 256, 512)
  config.gan.num_eval_samples = config.eval_batch_size = 64
  method = METHODS.get('dcgan')(config, types.SimpleNamespace(num_classes=1, image_shape=spec.shape))
  g = method.networks['g'].module
  create = functools.partial(create_state, networks=method.networks)
  eval_fn = lambda state, z: apply_ema(g, state, 'g', z, jnp.zeros((z.shape[0],), jnp.int32), batch_stats=True)
  return create, method.train_step, eval_fn


PARTS = {'classifier': classifier_parts, 'detector': detector_parts, 'gan': gan_parts}


def synthetic_batch(spec: Spec, batch: int, seed: int = 0) -> dict:
  """A host batch of the spec's kind: images and labels (and 4 ground-truth boxes per image for
  detectors)."""
  rng = np.random.default_rng(seed)
  out = {'image': rng.standard_normal((batch, *spec.shape)).astype(np.float32),
         'label': rng.integers(0, spec.num_classes, batch).astype(np.int32)}
  if spec.kind == 'detector':
    corner = rng.uniform(0, 0.6, (batch, 4, 2))
    size = rng.uniform(0.1, 0.4, (batch, 4, 2))
    out['boxes'] = np.concatenate([corner, corner + size], -1).astype(np.float32)  # (ymin, xmin, ymax, xmax)
    out['labels'] = rng.integers(0, spec.num_classes, (batch, 4)).astype(np.int32)
    out['box_valid'] = np.ones((batch, 4), bool)
  return out


def memory_stats() -> dict:
  """Peak device memory where the backend reports it (GPU), else nothing."""
  stats = jax.devices()[0].memory_stats() or {}
  return {'device_peak_mb': stats['peak_bytes_in_use'] / 2 ** 20} if 'peak_bytes_in_use' in stats else {}


def benchmark(spec: Spec, batch: int, dtype: str, warmup: int, steps: int, eval_steps: int,
              donate: bool = True, conv_impl: str = 'xla') -> dict:
  """Train-step and eval throughput, compile times and memory of one model. `pipelined_images_per_sec`
  times the same steps dispatched back to back with one sync at the end (as the trainer runs)."""
  mesh = parallel.data_mesh()
  repl, sharded = parallel.replicated(mesh), parallel.batch_sharded(mesh)
  create, train_step, eval_fn = PARTS[spec.kind](spec, dtype, conv_impl)
  state = jax.jit(create, out_shardings=repl)(jax.random.PRNGKey(0))
  data = jax.device_put(synthetic_batch(spec, batch), sharded)
  rng = jax.device_put(jax.random.PRNGKey(1), repl)

  start = time.perf_counter()
  compiled = jax.jit(train_step, in_shardings=(repl, sharded, repl), out_shardings=(repl, repl),
                     donate_argnums=(0,) if donate else ()).lower(state, data, rng).compile()
  compile_s = time.perf_counter() - start
  holder = {'state': state}

  def step():
    holder['state'], metrics = compiled(holder['state'], data, rng)
    jax.block_until_ready(metrics)
  result = {'compile_s': compile_s, **timing.throughput(batch, timing.time_steps(step, warmup, steps))}
  start = time.perf_counter()
  for _ in range(steps):
    holder['state'], metrics = compiled(holder['state'], data, rng)
  jax.block_until_ready((holder['state'], metrics))
  result['pipelined_images_per_sec'] = batch * steps / (time.perf_counter() - start)
  final = compiled(holder['state'], data, rng)[1]   # consumes the donated state
  loss = float(final['loss'] if 'loss' in final else final['g_loss'])   # GANs report G's and D's losses
  analysis = compiled.memory_analysis()
  if analysis is not None:
    result['xla_temp_mb'] = analysis.temp_size_in_bytes / 2 ** 20
    result['xla_argument_mb'] = analysis.argument_size_in_bytes / 2 ** 20

  state = jax.jit(create, out_shardings=repl)(jax.random.PRNGKey(0))
  inputs = data['image'] if spec.kind != 'gan' else jax.device_put(
      np.random.default_rng(2).standard_normal((batch, 100)).astype(np.float32), sharded)
  start = time.perf_counter()
  compiled_eval = jax.jit(eval_fn, in_shardings=(repl, sharded)).lower(state, inputs).compile()
  result['eval_compile_s'] = time.perf_counter() - start
  eval_times = timing.time_steps(lambda: jax.block_until_ready(compiled_eval(state, inputs)), warmup, eval_steps)
  result['eval_images_per_sec'] = timing.throughput(batch, eval_times)['images_per_sec']
  result.update(memory_stats())
  result['final_loss'] = loss
  return result
