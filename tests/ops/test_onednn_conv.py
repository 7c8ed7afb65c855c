"""The oneDNN convolution (vision_jax/ops) against lax.conv_general_dilated: forward and both
gradients over strides, paddings, dilations, groups (depthwise too), odd sizes and batch 1, inside
jit and vmap; and a whole ResNet-20 train step against XLA's."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vision_jax.ops import build, onednn

# Where g++ and the oneDNN wheels are present (every `make test` machine), a library that did not
# build or load fails these tests instead of skipping them.
pytestmark = pytest.mark.skipif(bool(build.problem()), reason=f'cannot build the oneDNN library: {build.problem()}')


@pytest.fixture(autouse=True)
def library_loaded():
  assert onednn.available(), 'vision_jax/ops/_onednn_conv.so is not built or does not load: run `make ops`'

CASES = [  # (batch, h, w, c, o, k, stride, padding, dilation, groups)
    (2, 8, 8, 4, 6, 3, 1, ((1, 1), (1, 1)), 1, 1),
    (3, 9, 7, 5, 4, 3, 2, ((1, 1), (1, 1)), 1, 1),
    (1, 11, 10, 3, 8, 5, 2, ((2, 1), (0, 3)), 1, 1),
    (2, 10, 10, 4, 4, 3, 1, ((2, 2), (2, 2)), 2, 1),
    (2, 13, 9, 6, 4, 3, 2, ((0, 0), (0, 0)), 2, 1),
    (2, 8, 8, 6, 9, 3, 1, ((1, 1), (1, 1)), 1, 3),
    (2, 9, 9, 8, 8, 3, 2, ((1, 1), (1, 1)), 1, 8),       # depthwise
    (1, 7, 7, 4, 8, 3, 1, ((1, 1), (1, 1)), 1, 4),        # depthwise, multiplier 2
    (2, 6, 6, 8, 16, 1, 1, ((0, 0), (0, 0)), 1, 1),       # 1x1
    (1, 15, 15, 3, 5, 7, 2, ((3, 3), (3, 3)), 1, 1),      # a stem
]


def lax_conv(x, w, stride, padding, dilation, groups):
  return jax.lax.conv_general_dilated(x, w, (stride, stride), padding, rhs_dilation=(dilation, dilation),
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'), feature_group_count=groups)


def ours(x, w, stride, padding, dilation, groups):
  return onednn.conv(x, w, ((stride, stride), padding, (dilation, dilation), groups))


def relative_error(a, b) -> float:
  return float(jnp.max(jnp.abs(a - b)) / jnp.maximum(jnp.max(jnp.abs(b)), 1e-12))


def inputs(case, seed=0):
  n, h, w, c, o, k, *_, groups = case
  rng = np.random.default_rng(seed)
  return (jnp.asarray(rng.standard_normal((n, h, w, c)), jnp.float32),
          jnp.asarray(rng.standard_normal((k, k, c // groups, o)), jnp.float32))


@pytest.mark.parametrize('case', CASES, ids=[str(i) for i in range(len(CASES))])
def test_forward_and_both_gradients_match_lax(case):
  x, w = inputs(case)
  args = case[6:]
  expected = lax_conv(x, w, *args)
  got = jax.jit(ours, static_argnums=(2, 3, 4, 5))(x, w, *args)
  assert got.shape == expected.shape and relative_error(got, expected) <= 1e-5
  cotangent = jnp.asarray(np.random.default_rng(1).standard_normal(expected.shape), jnp.float32)
  loss = lambda f: lambda x, w: jnp.sum(f(x, w, *args) * cotangent)  # noqa: E731
  want = jax.grad(loss(lax_conv), argnums=(0, 1))(x, w)
  have = jax.jit(jax.grad(loss(ours), argnums=(0, 1)))(x, w)
  for a, b in zip(have, want):
    assert a.shape == b.shape and relative_error(a, b) <= 1e-5


def test_layers_dispatch_same_padding_and_fall_back_where_unsupported():
  x, w = inputs(CASES[1])
  conv = functools.partial(onednn.conv_general_dilated, dimension_numbers=('NHWC', 'HWIO', 'NHWC'), impl='onednn')
  same = conv(x, w, (2, 2), 'SAME')
  jaxpr = str(jax.make_jaxpr(lambda x: conv(x, w, (2, 2), 'SAME'))(x))
  dilated_input = conv(x, w, (1, 1), ((1, 1), (1, 1)), lhs_dilation=(2, 2))
  half = str(jax.make_jaxpr(lambda x: conv(x.astype(jnp.float16), w.astype(jnp.float16), (1, 1), 'SAME'))(x))
  expected = jax.lax.conv_general_dilated(x, w, (2, 2), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  assert relative_error(same, expected) <= 1e-5 and 'ffi_call' in jaxpr
  assert dilated_input.shape == (3, 17, 13, 4) and 'ffi_call' not in half   # XLA ran these


@pytest.mark.skipif(not onednn.native_bfloat16(), reason='no native bfloat16 on this CPU: XLA runs bfloat16')
@pytest.mark.parametrize('case', [CASES[i] for i in (0, 1, 3, 6, 9)], ids=['0', '1', '3', '6', '9'])
def test_bfloat16_forward_and_both_gradients_match_lax_in_float32(case):
  # bfloat16 in and out, float32 accumulation: against float32 lax on the same bfloat16-rounded
  # inputs, within bfloat16's rounding of the result (8 bits of mantissa: 2^-8 relative)
  x, w = (a.astype(jnp.bfloat16) for a in inputs(case))
  args = case[6:]
  got = jax.jit(ours, static_argnums=(2, 3, 4, 5))(x, w, *args)
  expected = lax_conv(x.astype(jnp.float32), w.astype(jnp.float32), *args)
  assert got.dtype == jnp.bfloat16 and relative_error(got.astype(jnp.float32), expected) <= 2 ** -7
  cotangent = jnp.asarray(np.random.default_rng(1).standard_normal(expected.shape), jnp.bfloat16)
  loss = lambda f: lambda x, w: jnp.sum((f(x, w, *args) * cotangent).astype(jnp.float32))  # noqa: E731
  want = jax.grad(loss(lax_conv), argnums=(0, 1))(x.astype(jnp.float32), w.astype(jnp.float32))
  have = jax.jit(jax.grad(loss(ours), argnums=(0, 1)))(x, w)
  for a, b in zip(have, want):
    assert a.dtype == jnp.bfloat16 and relative_error(a.astype(jnp.float32), b) <= 2 ** -6


def test_vmap_over_an_extra_batch_axis():
  x, w = inputs(CASES[0])
  xs = jnp.stack([x, x * 2])
  got = jax.vmap(lambda x: ours(x, w, 1, ((1, 1), (1, 1)), 1, 1))(xs)
  want = jax.vmap(lambda x: lax_conv(x, w, 1, ((1, 1), (1, 1)), 1, 1))(xs)
  assert relative_error(got, want) <= 1e-5


def resnet20_step(impl: str, batch, state=None):
  """One SGD step of CIFAR ResNet-20 with our conv layers on `impl`: (new state, metrics)."""
  import ml_collections
  import optax
  from vision_jax import models
  from vision_jax.tasks.classification import make_train_step
  from vision_jax.train.state import create_train_state
  model = models.build_model(ml_collections.ConfigDict({'name': 'cifar_resnet20', 'conv_impl': impl}), 10)
  if state is None:
    state = create_train_state(jax.random.PRNGKey(0), model, optax.sgd(0.1, momentum=0.9), (32, 32, 3))
  step = make_train_step(model, lambda step: 0.1)
  return jax.jit(step)(state, batch, jax.random.PRNGKey(1))


def test_a_resnet20_train_step_matches_xla_and_checkpoints_interchange():
  rng = np.random.default_rng(0)
  batch = {'image': jnp.asarray(rng.standard_normal((8, 32, 32, 3)), jnp.float32),
           'label': jnp.asarray(rng.integers(0, 10, 8), jnp.int32)}
  state, metrics = resnet20_step('xla', batch)
  again, metrics_dnnl = resnet20_step('onednn', batch, state=None)
  assert abs(float(metrics['loss']) - float(metrics_dnnl['loss'])) <= 1e-5 * abs(float(metrics['loss']))
  assert abs(float(metrics['grad_norm']) - float(metrics_dnnl['grad_norm'])) <= 1e-4 * float(metrics['grad_norm'])
  for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(again.params)):
    assert a.shape == b.shape and float(jnp.max(jnp.abs(a - b))) <= 1e-5
  # the same parameter tree: a state trained with one implementation continues with the other
  continued, _ = resnet20_step('onednn', batch, state=state)
  reference, _ = resnet20_step('xla', batch, state=state)
  for a, b in zip(jax.tree.leaves(continued.params), jax.tree.leaves(reference.params)):
    assert float(jnp.max(jnp.abs(a - b))) <= 1e-5


MESH_CHECK = '''
import functools
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from vision_jax.ops import onednn
from vision_jax.train import parallel
mesh = parallel.data_mesh()
rng = np.random.default_rng(0)
x = jax.device_put(jnp.asarray(rng.standard_normal((8, 9, 9, 4)), jnp.float32), parallel.batch_sharded(mesh))
w = jax.device_put(jnp.asarray(rng.standard_normal((3, 3, 4, 6)), jnp.float32), parallel.replicated(mesh))
def loss(conv):
  return lambda x, w: jnp.sum(jnp.tanh(conv(x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=('NHWC', 'HWIO', 'NHWC'))))
want = jax.jit(jax.value_and_grad(loss(jax.lax.conv_general_dilated), argnums=(0, 1)))(x, w)
step = jax.jit(jax.value_and_grad(loss(functools.partial(onednn.conv_general_dilated, impl='onednn')), argnums=(0, 1)))
hlo = step.lower(x, w).compile().as_text()
have = step(x, w)
err = max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b))) for a, b in zip(jax.tree.leaves(have), jax.tree.leaves(want)))
print('devices', len(jax.devices()), 'error', err, 'custom_calls', hlo.count('custom_call_target="onednn_conv'),
      'sharded_x', have[1][0].sharding.spec)
'''


def test_each_device_of_the_data_mesh_convolves_its_shard():
  import subprocess
  import sys
  from tests.helpers import ROOT, subprocess_env
  done = subprocess.run([sys.executable, '-c', MESH_CHECK], cwd=ROOT, env=subprocess_env(num_devices=4),
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  line = done.stdout.strip().splitlines()[-1].split()
  assert line[1] == '4' and float(line[3]) <= 1e-5 and int(line[5]) == 3, line  # fwd, dgrad, wgrad once each


def onednn_calls(model, *inputs) -> int:
  """How many oneDNN convolutions the model's initialisation traces."""
  return str(jax.make_jaxpr(lambda *x: model.init(jax.random.PRNGKey(0), *x))(*inputs)).count('onednn_conv')


@pytest.mark.skipif(not onednn.available(), reason='the oneDNN library is not built')
def test_conv_impl_is_each_networks_attribute_and_reaches_every_conv_layer():
  """config.model.conv_impl reaches the conv layers of nested blocks (a detector's backbone and
  neck), and two networks built in one process keep their own choices (no process state)."""
  import ml_collections
  from vision_jax import models
  from vision_jax.detection import faster_rcnn
  from vision_jax.models.dcgan import Generator

  def detector(impl):
    config = ml_collections.ConfigDict({'name': 'faster_rcnn', 'backbone': 'tiny', 'neck': 'fpn', 'conv_impl': impl,
                                        'anchor_sizes': ((16,), (32,), (64,)), 'fpn_features': 8, 'representation': 8,
                                        'backbone_args': {'widths': (8, 8, 8)}, 'rpn_pre_nms_top_n_test': 8,
                                        'rpn_post_nms_top_n_test': 8})
    return models.instantiate(faster_rcnn.FasterRCNN, config, 2)
  image = jnp.zeros((1, 32, 32, 1))
  xla, dnnl, default = detector('xla'), detector('onednn'), detector(None)
  assert onednn_calls(xla, image) == 0
  assert onednn_calls(dnnl, image) == onednn_calls(default, image) > 10   # trunk, FPN and RPN convolutions
  lenet = lambda impl: models.build_model(ml_collections.ConfigDict({'name': 'lenet5', 'conv_impl': impl}), 10)
  assert onednn_calls(lenet('xla'), jnp.zeros((1, 32, 32, 1))) == 0 < onednn_calls(lenet('auto'), jnp.zeros((1, 32, 32, 1)))
  z = jnp.zeros((2, 100))   # transposed convolutions run as phase convolutions with the same choice
  assert onednn_calls(Generator(widths=(8, 8, 8), conv_impl='xla'), z) == 0 < onednn_calls(Generator(widths=(8, 8, 8)), z)
  with pytest.raises(Exception, match="unknown model.conv_impl 'fast'"):
    models.build_model(ml_collections.ConfigDict({'name': 'lenet5', 'conv_impl': 'fast'}), 10)


def test_a_library_built_from_older_source_falls_back_to_xla_with_one_line(monkeypatch, caplog):
  monkeypatch.setattr(onednn, 'LIBRARY', 'libm.so.6')   # loads, but has none of our handlers
  assert onednn.available.__wrapped__() is False
  assert 'out of date' in caplog.text and 'make ops' in caplog.text
