"""ONNX export of a predictor's jitted function through jax2onnx (the `export` extra; `make export`).

Two things stand between jax2onnx 0.17.1 and our linen models, both handled here:
- jax2onnx replaces flax.linen's layers (max_pool, Conv, BatchNorm, ...) with its own while it
  traces, and its max_pool cannot be called the way linen's can (positional window, explicit
  padding). We trace the function to a jaxpr first, with linen untouched, and hand jax2onnx a
  function that only replays that jaxpr's primitives.
- Its lowering of lax.reduce_window_max (every max pool) emits a 4-D MaxPool over N, H, W, C,
  which onnxruntime rejects ("Unsupported pooling size"). While exporting, NHWC pools with unit
  window on N and C lower to Transpose -> 2-D MaxPool -> Transpose instead.
"""

import contextlib
import logging

import jax
import jax2onnx
import numpy as np
import onnx_ir as ir
from jax2onnx.converter.ir_builder import _dtype_to_ir
from jax2onnx.plugins._ir_shapes import _ensure_value_metadata, _stamp_type_and_shape
from jax2onnx.plugins.jax.lax.reduce_window_max import ReduceWindowMaxPrimitivePlugin

OPSET = 23


def spatial_pool(params: dict) -> bool:
  """Whether a reduce_window_max is a plain NHWC pool: window, stride and padding 1/1/0 on N and
  C, no dilation."""
  window, strides = tuple(params['window_dimensions']), tuple(params['window_strides'])
  padding = tuple(tuple(int(v) for v in pair) for pair in params['padding'])
  undilated = all(d == 1 for key in ('base_dilation', 'window_dilation') for d in params.get(key, (1,) * len(window)))
  return (len(window) == 4 and window[0] == window[3] == 1 and strides[0] == strides[3] == 1
          and padding[0] == padding[3] == (0, 0) and undilated)


def lower_nhwc_max_pool(ctx, eqn) -> None:
  """reduce_window_max over NHWC as Transpose(NCHW) -> MaxPool(2-D window, stride, pads) -> Transpose."""
  window, strides = eqn.params['window_dimensions'], eqn.params['window_strides']
  (top, bottom), (left, right) = (tuple(int(v) for v in pair) for pair in eqn.params['padding'][1:3])
  x_var, y_var = eqn.invars[0], eqn.outvars[0]
  dtype = _dtype_to_ir(np.dtype(x_var.aval.dtype), ctx.builder.enable_double_precision)
  (n, h, w, c), (_, oh, ow, _) = x_var.aval.shape, y_var.aval.shape
  x = ctx.get_value_for_var(x_var, name_hint=ctx.fresh_name('pool_in'))
  y_name = getattr(ctx.get_value_for_var(y_var, name_hint=ctx.fresh_name('pool_out')), 'name', None)

  def typed(value, shape):
    value.type = ir.TensorType(dtype)
    _stamp_type_and_shape(value, shape)
    _ensure_value_metadata(ctx, value)
    return value
  nchw = typed(ctx.builder.Transpose(x, _outputs=[ctx.fresh_name('pool_nchw')], perm=(0, 3, 1, 2)), (n, c, h, w))
  options = {'kernel_shape': tuple(window[1:3]), 'strides': tuple(strides[1:3])}
  if top or bottom or left or right:
    options['pads'] = (top, left, bottom, right)
  pooled = typed(ctx.builder.MaxPool(nchw, _outputs=[ctx.fresh_name('pool')], **options), (n, c, oh, ow))
  out = typed(ctx.builder.Transpose(pooled, _outputs=[y_name or ctx.fresh_name('pool_nhwc')], perm=(0, 2, 3, 1)),
              (n, oh, ow, c))
  ctx.bind_value_for_var(y_var, out)


@contextlib.contextmanager
def onnxruntime_max_pools():
  """While active, NHWC max pools lower to 2-D MaxPool (see the module docstring); jax2onnx's
  warnings about its own optional example plugins (equinox, dm-pix) are quieted."""
  original = ReduceWindowMaxPrimitivePlugin.lower
  ReduceWindowMaxPrimitivePlugin.lower = lambda self, ctx, eqn: (
      lower_nhwc_max_pool(ctx, eqn) if spatial_pool(eqn.params) else original(self, ctx, eqn))
  logger = logging.getLogger('jax2onnx')
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    yield
  finally:
    ReduceWindowMaxPrimitivePlugin.lower = original
    logger.setLevel(level)


def replayed(fn, spec: jax.ShapeDtypeStruct):
  """fn traced once (linen as it is) -> (a function replaying its jaxpr's primitives on a flat
  tuple of outputs, the outputs' names: their dict keys in flattening order)."""
  closed = jax.make_jaxpr(fn)(spec)
  paths = jax.tree_util.tree_flatten_with_path(jax.eval_shape(fn, spec))[0]
  names = ['.'.join(str(getattr(key, 'key', key)) for key in path) for path, _ in paths]
  return (lambda images: tuple(jax.core.eval_jaxpr(closed.jaxpr, closed.consts, images))), names


def write_onnx(fn, spec: jax.ShapeDtypeStruct, path: str) -> str:
  """fn (images -> dict of arrays, weights closed over) as an ONNX model at path: input `images`,
  one output per dict key."""
  flat, names = replayed(fn, spec)
  with onnxruntime_max_pools():
    jax2onnx.to_onnx(flat, [spec], model_name='vision_jax', opset=OPSET, return_mode='file', output_path=path,
                     input_names=['images'], output_names=names)
  return path
