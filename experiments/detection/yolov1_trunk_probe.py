"""Is YOLOv1's weak result on the digit scenes its trunk or its fully connected head?

  python experiments/detection/yolov1_trunk_probe.py [PRETRAIN_STEPS] [DETECTION_STEPS]

Pretrains the trunk of configs/digit_scenes_yolov1.py as a digit classifier (the paper's recipe,
with single real digits of 12-48 px on the scenes' textured 64x64 backgrounds instead of
ImageNet; global average pool and a 10-way layer on top), prints its accuracy on crops of the
test glyphs, then copies the trunk into YOLOv1 and trains detection on the train scenes with the
demo's loss and schedule shape (AdamW 2e-3, 200 warm-up steps, cosine; no augmentation). It
prints the class loss every 100 steps and, at the end, the share of test-scene cells holding an
object whose class YOLOv1 names correctly. PRETRAIN_STEPS 0 trains the same detector from scratch.
"""

import sys
import time

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, __file__.rsplit('/experiments/', 1)[0])

from configs import digit_scenes_yolov1  # noqa: E402
from vision_jax.data.digit_scenes import background, glyph, scene_batch  # noqa: E402
from vision_jax.data.digits import load_digits_split  # noqa: E402
from vision_jax.detection.yolov1 import YOLOv1, cell_targets, parse_layer, yolov1_loss  # noqa: E402

CONFIG = digit_scenes_yolov1.get_config()
LAYERS = CONFIG.model.layers
MEAN, STD = CONFIG.dataset.mean[0], CONFIG.dataset.std[0]


class TrunkClassifier(nn.Module):
  """YOLOv1's trunk (same layer names, so its parameters drop into YOLOv1) + average pool + 10 logits."""

  @nn.compact
  def __call__(self, x, train: bool):
    for i, token in enumerate(LAYERS.split()):
      if token == 'M':
        x = nn.max_pool(x, (2, 2), (2, 2))
        continue
      kernel, channels, stride = parse_layer(token)
      pad = kernel // 2
      x = nn.Conv(channels, (kernel, kernel), (stride, stride), ((pad, pad), (pad, pad)), use_bias=False,
                  name=f'conv{i}')(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-5, name=f'bn{i}')(x)
      x = nn.leaky_relu(x, 0.1)
    return nn.Dense(10, name='head')(x.mean((1, 2)))


def digit_crops(split: str, seed: int, count: int, size: int = 64):
  """`count` normalised (size, size, 1) crops, one digit of 12-48 px each, and their labels."""
  digits, labels = load_digits_split(split)
  rng = np.random.default_rng(seed)
  images, classes = [], []
  for _ in range(count):
    image = background(rng, size)
    s = int(rng.integers(12, 49))
    top, left = rng.integers(0, size - s + 1, 2)
    which = int(rng.integers(len(labels)))
    image[top:top + s, left:left + s] = np.maximum(image[top:top + s, left:left + s],
                                                   glyph(digits[which, :, :, 0], s) * rng.uniform(0.7, 1.0))
    images.append(image)
    classes.append(labels[which])
  return (np.stack(images)[..., None].astype(np.float32) - MEAN) / STD, np.asarray(classes)


def train_loop(loss_fn, params, batch_stats, steps: int, warmup: int, batches):
  """AdamW 2e-3 with warm-up and cosine decay; yields (step, aux) after each step."""
  optimizer = optax.adamw(optax.warmup_cosine_decay_schedule(0.0, 2e-3, warmup, steps), weight_decay=1e-4)
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, batch_stats, opt_state, batch):
    (_, (aux, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch_stats, batch)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, aux

  for i in range(steps):
    params, batch_stats, opt_state, aux = step(params, batch_stats, opt_state, batches(i))
    yield i + 1, params, batch_stats, aux


def pretrain(steps: int):
  """Trunk classifier variables after `steps` of batch 64; prints test-glyph accuracy."""
  model = TrunkClassifier()
  variables = model.init(jax.random.PRNGKey(0), digit_crops('train', 0, 2)[0], False)

  def loss_fn(params, batch_stats, batch):
    logits, updates = model.apply({'params': params, 'batch_stats': batch_stats}, batch[0], True,
                                  mutable=['batch_stats'])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()
    return loss, (loss, updates['batch_stats'])

  start = time.time()
  params, batch_stats = variables['params'], variables['batch_stats']
  for i, params, batch_stats, loss in train_loop(loss_fn, params, batch_stats, steps, 100,
                                                 lambda i: digit_crops('train', 1000 + i, 64)):
    if i % 100 == 0:
      print(f'pretrain step {i}: loss {float(loss):.4f}', flush=True)
  images, labels = digit_crops('test', 99, 500)
  logits = model.apply({'params': params, 'batch_stats': batch_stats}, images, False)
  print(f'pretrained trunk: accuracy {float((logits.argmax(-1) == labels).mean()):.4f} on 500 test-glyph crops '
        f'({time.time() - start:.1f} s)', flush=True)
  return params, batch_stats


def detect(steps: int, trunk=None):
  """Trains YOLOv1 (the demo's model) for `steps` of batch 32; prints class loss and test accuracy."""
  model = YOLOv1(num_classes=10, layers=LAYERS, grid_size=CONFIG.model.grid_size, hidden=CONFIG.model.hidden,
                 batch_norm=True)
  variables = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 128, 128, 1)))
  params, batch_stats = flax.core.unfreeze(variables['params']), flax.core.unfreeze(variables['batch_stats'])
  if trunk:
    params.update({k: v for k, v in trunk[0].items() if k != 'head'})
    batch_stats.update(trunk[1])

  def loss_fn(params, batch_stats, batch):
    outputs, updates = model.apply({'params': params, 'batch_stats': batch_stats}, batch['image'], train=True,
                                   mutable=['batch_stats'], rngs={'dropout': batch['rng']})
    terms = yolov1_loss(outputs, batch['boxes'], batch['labels'], batch['box_valid'])
    return terms['loss'], (terms, updates['batch_stats'])

  def batches(i):
    scenes = scene_batch('train', 32 * i, 32, 1)
    return {**scenes, 'image': (scenes['image'] - MEAN) / STD, 'rng': jax.random.PRNGKey(i)}

  start, class_losses = time.time(), []
  for i, params, batch_stats, terms in train_loop(loss_fn, params, batch_stats, steps, 200, batches):
    class_losses.append(float(terms['class_loss']))
    if i % 100 == 0:
      print(f'detection step {i}: class loss {np.mean(class_losses[-100:]):.4f} (mean of the last 100)', flush=True)
  test = scene_batch('test', 0, 200, 1)
  outputs = model.apply({'params': params, 'batch_stats': batch_stats}, (test['image'] - MEAN) / STD)
  targets = jax.vmap(lambda b, l, v: cell_targets(b, l, v, CONFIG.model.grid_size))(
      test['boxes'], test['labels'], test['box_valid'])
  right = (outputs['scores'].argmax(-1) == targets['labels']) & targets['object']
  print(f'object cells of 200 test scenes named right: {float(right.sum() / targets["object"].sum()):.4f} '
        f'({time.time() - start:.1f} s)')


if __name__ == '__main__':
  pretrain_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 600
  detection_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
  detect(detection_steps, pretrain(pretrain_steps) if pretrain_steps else None)
