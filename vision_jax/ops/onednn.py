"""The oneDNN convolution as an XLA FFI custom call (onednn_conv.cc, built by build.py): forward,
gradient with respect to the input and to the weights, joined by a custom VJP, NHWC/HWIO, float32
(bfloat16 too where the CPU has native bfloat16 instructions: AVX512_BF16 or AMX).

conv_general_dilated() has lax.conv_general_dilated's signature plus `impl`, and is what our conv
layer (models/layers.Conv) calls with its network's config.model.conv_impl: on the CPU it runs
oneDNN ('auto', the default, when the library is built, or 'onednn') wherever the call is one it
supports (2-D, NHWC/HWIO, float32 or native bfloat16, no input dilation), and XLA's convolution
otherwise ('xla' always). Under a data mesh of several devices each device convolves its own shard
of the batch (shard_map). The choice is an argument, never process state, so jit sees it.
"""

import ctypes
import functools
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, PartitionSpec as P

LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_onednn_conv.so')
IMPLS = ('auto', 'xla', 'onednn')
TARGETS = {'forward': 'OnednnConvForward', 'backward_data': 'OnednnConvBackwardData',
           'backward_weights': 'OnednnConvBackwardWeights'}
# Element types and the suffix of their handler symbols in onednn_conv.cc.
TYPES = {jnp.dtype(jnp.float32): '', jnp.dtype(jnp.bfloat16): 'Bf16'}
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
NHWC_HWIO = lax.ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))

@functools.cache
def available() -> bool:
  """Whether the library is built and its targets (three entry points, two element types) are
  registered with XLA:CPU."""
  try:
    library = ctypes.cdll.LoadLibrary(LIBRARY)
  except OSError as e:
    logging.warning('oneDNN convolution not available (%s); using XLA\'s convolution. Build it with '
                    '`make ops` (needs g++ and the onednn wheels of setup.cfg)', str(e).split(':')[-1].strip())
    return False
  try:
    handlers = {f'onednn_conv_{name}_{dtype.name}': getattr(library, symbol + suffix)
                for name, symbol in TARGETS.items() for dtype, suffix in TYPES.items()}
  except AttributeError as e:  # a library built from an older onednn_conv.cc
    logging.warning('oneDNN convolution library is out of date (%s); using XLA\'s convolution. Rebuild it '
                    'with `make ops`', e)
    return False
  for target, handler in handlers.items():
    jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(handler), platform='cpu')
  return True


@functools.cache
def native_bfloat16() -> bool:
  """Whether this CPU has bfloat16 dot-product instructions (else bfloat16 convolutions run XLA's)."""
  try:
    with open('/proc/cpuinfo') as f:
      flags = next((line.split(':', 1)[1].split() for line in f if line.startswith('flags')), [])
  except OSError:
    return False
  return any(flag in flags for flag in BF16_CPU_FLAGS)


Geometry = tuple  # (strides (2,), padding ((lo, hi), (lo, hi)), dilation (2,), groups)


def output_hw(x_hw, w_hw, geometry: Geometry) -> tuple[int, int]:
  strides, padding, dilation, _ = geometry
  return tuple((x + lo + hi - (d * (k - 1) + 1)) // s + 1
               for x, k, s, (lo, hi), d in zip(x_hw, w_hw, strides, padding, dilation))


def _call(target: str, shape, a, b, geometry: Geometry):
  strides, padding, dilation, groups = geometry
  return jax.ffi.ffi_call(f'onednn_conv_{target}_{a.dtype.name}', jax.ShapeDtypeStruct(shape, a.dtype),
                          vmap_method='sequential')(
      a, b, strides=np.asarray(strides, np.int64), padding=np.asarray(padding, np.int64).reshape(-1),
      dilation=np.asarray(dilation, np.int64), groups=np.int64(groups))


def _forward(x, w, geometry):
  return _call('forward', (x.shape[0], *output_hw(x.shape[1:3], w.shape[:2], geometry), w.shape[3]), x, w, geometry)


def _backward_data(dy, w, x_shape, geometry):
  return _call('backward_data', x_shape, dy, w, geometry)


def _backward_weights(x, dy, w_shape, geometry):
  return _call('backward_weights', w_shape, x, dy, geometry)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv(x, w, geometry: Geometry):
  """oneDNN convolution of NHWC x with HWIO w of the same type, float32 or bfloat16 (one device's batch)."""
  return _forward(x, w, geometry)


def _conv_fwd(x, w, geometry):
  return _forward(x, w, geometry), (x, w)


def _conv_bwd(geometry, residuals, dy):
  x, w = residuals
  return _backward_data(dy, w, x.shape, geometry), _backward_weights(x, dy, w.shape, geometry)


conv.defvjp(_conv_fwd, _conv_bwd)


def sharded_conv(x, w, geometry: Geometry):
  """conv on every device's shard of the batch when several devices share it (the data mesh);
  the weight gradient is summed over the shards by the custom VJP run per shard plus psum."""
  count = len(jax.devices())
  if count == 1 or x.shape[0] % count:
    return conv(x, w, geometry)
  mesh = Mesh(np.asarray(jax.devices()), ('data',))
  return jax.shard_map(lambda xs, ws: conv(xs, ws, geometry), mesh=mesh, in_specs=(P('data'), P()),
                       out_specs=P('data'), check_vma=False)(x, w)


def supported(lhs, rhs, lhs_dilation, dimension_numbers, batch_group_count, preferred_element_type,
              impl: str = 'auto') -> bool:
  """Whether oneDNN runs this call: impl not 'xla', CPU, 2-D NHWC/HWIO, float32 (or bfloat16 on a CPU
  with native bfloat16) in and out, no input dilation. Without the built library oneDNN logs one
  line and XLA's convolution runs; accelerators always run XLA's."""
  if impl not in IMPLS:
    raise ValueError(f'unknown conv_impl {impl!r}; choose one of: {", ".join(IMPLS)}')
  dtype = lhs.dtype
  return (impl != 'xla' and jax.default_backend() == 'cpu' and available() and lhs.ndim == 4
          and dtype in TYPES and rhs.dtype == dtype and (dtype == jnp.float32 or native_bfloat16())
          and batch_group_count == 1 and (lhs_dilation is None or all(d == 1 for d in lhs_dilation))
          and (preferred_element_type is None or jnp.dtype(preferred_element_type) == dtype)
          and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers) == NHWC_HWIO)


def explicit_padding(lhs, rhs, window_strides, padding, dilation) -> tuple:
  """Padding as ((lo, hi), (lo, hi)) pixels, 'SAME'/'VALID' resolved as lax resolves them."""
  if isinstance(padding, str):
    window = [d * (k - 1) + 1 for k, d in zip(rhs.shape[:2], dilation)]
    padding = lax.padtype_to_pads(lhs.shape[1:3], window, window_strides, padding)
  return tuple(tuple(int(v) for v in pair) for pair in padding)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
                         preferred_element_type=None, impl: str = 'auto'):
  """lax.conv_general_dilated, through oneDNN where supported() says so for impl (and no padding is
  negative)."""
  if supported(lhs, rhs, lhs_dilation, dimension_numbers, batch_group_count, preferred_element_type, impl):
    dilation = tuple(rhs_dilation or (1, 1))
    pads = explicit_padding(lhs, rhs, window_strides, padding, dilation)
    if all(v >= 0 for pair in pads for v in pair):
      return sharded_conv(lhs, rhs, (tuple(int(s) for s in window_strides), pads, dilation, int(feature_group_count)))
  return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                  dimension_numbers, feature_group_count, batch_group_count, precision,
                                  preferred_element_type)
