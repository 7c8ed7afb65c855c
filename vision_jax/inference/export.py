"""Export of a trained classifier or detector to WORKDIR/export/<format>/, for use outside JAX:

- 'saved_model': a TensorFlow SavedModel (jax2tf, native serialisation: the jitted function as
  StableHLO, weights as variables), signature `serving_default(images)`; runs wherever TF runs.
- 'onnx': an ONNX model (jax2onnx, weights as constants, opset 23), input `images`; runs in
  onnxruntime. Needs the `export` extra and jax2onnx (`make export`: jax2onnx 0.17.1 caps
  orbax-checkpoint below our pin, so it is installed without its dependencies); without it the
  request is one line. How it is traced: vision_jax/inference/to_onnx.py.

The exported function, for a fixed batch size (1 by default), is the predictor's own (`Predictor.apply` with the workdir's weights, the
XLA convolution): inputs are prepared images (float32 (N, H, W, C), resized and normalised as
export/README.md says, which is written beside the model); classifiers return logits and
probabilities, detectors their padded post-processed detections (boxes in model-input pixels,
scores, labels, valid), so NMS is inside the exported model. Each export is checked by running it
in its runtime against the JAX predictor (tests/inference/test_export.py). Like every module that
imports TensorFlow, the tasks import this one only when asked to export: the GPU machine has no TF,
and TF loaded beside PyTorch crashes PyTorch's triton import (SIGSEGV; the benchmarks run both).
"""

import contextlib
import json
import os

import jax
import tensorflow as tf
from jax._src import xla_bridge
from jax._src.export import _export
from jax._src.lib import _jax
from jax._src.lib.mlir.dialects import hlo
from jax.experimental import jax2tf

try:
  from vision_jax.inference import to_onnx
except ImportError:   # jax2onnx is optional (`make export`)
  to_onnx = None

from vision_jax.errors import UserError
from vision_jax.inference.predictors import Classifier, Detector, Predictor, load

FORMATS = ('saved_model', 'onnx')


def exportable(predictor: Predictor) -> Predictor:
  if not isinstance(predictor, (Classifier, Detector)):
    raise UserError(f'export covers classifiers and detectors; a {type(predictor).__name__} cannot be exported '
                    '(its predictor is in vision_jax.inference)')
  return predictor


@contextlib.contextmanager
def stablehlo_tensorflow_reads():
  """While active, JAX serialises StableHLO in the version TensorFlow 2.21 reads (1.13.7, JAX's
  12-week window) instead of JAX 0.10.2's default 4-week one (1.15.0, which TF rejects for
  lax.top_k's composite): jax.export has no public switch for it, so its serialiser is swapped for
  the duration (both versions are pinned in setup.cfg)."""
  version = hlo.get_version_from_compatibility_requirement(hlo.StablehloCompatibilityRequirement.WEEK_12)
  original = _export._module_to_bytecode
  _export._module_to_bytecode = lambda module: _jax.mlir.serialize_portable_artifact(
      module, version, xla_bridge.get_backend().serialize_with_sdy)
  try:
    yield
  finally:
    _export._module_to_bytecode = original


def export_saved_model(predictor: Predictor, out: str, batch_size: int) -> str:
  """A SavedModel of predictor.apply with its weights as tf.Variables, for batches of batch_size
  (fixed: TF cannot refine the batch-polymorphic NMS's dynamic shapes)."""
  h, w, c = predictor.source.image_shape
  params = tf.nest.map_structure(tf.Variable, jax.device_get(predictor.variables))
  converted = jax2tf.convert(predictor.apply, with_gradient=False)
  module = tf.Module()
  module.params = params
  module.serve = tf.function(lambda images: converted(module.params, images), autograph=False,
                             input_signature=[tf.TensorSpec((batch_size, h, w, c), tf.float32, name='images')])
  with stablehlo_tensorflow_reads():
    tf.saved_model.save(module, out, signatures={'serving_default': module.serve})
  return out


def export_onnx(predictor: Predictor, out: str, batch_size: int) -> str:
  """model.onnx of predictor.apply with its weights as constants, for batches of batch_size;
  NMS included (every family: the loops lower to ONNX Loop)."""
  if to_onnx is None:
    raise UserError('ONNX export needs jax2onnx and onnxruntime: run `make export` (or pip install -e ".[export]" '
                    'and pip install --no-deps jax2onnx==0.17.1), or use --config.export=saved_model') from None
  variables = jax.device_get(predictor.variables)
  spec = jax.ShapeDtypeStruct((batch_size, *predictor.source.image_shape), jax.numpy.float32)
  return to_onnx.write_onnx(lambda images: predictor.apply(variables, images), spec, os.path.join(out, 'model.onnx'))


def input_spec(predictor: Predictor, batch_size: int) -> dict:
  """What the exported model expects and returns (also export/README.md and export/input.json)."""
  s = predictor.source
  return {'kind': 'classifier' if isinstance(predictor, Classifier) else 'detector',
          'input': {'shape': [batch_size, *s.image_shape], 'dtype': 'float32', 'channels': s.image_shape[-1],
                    'mean': s.mean.tolist(), 'std': s.std.tolist(),
                    'resize': s.resize if isinstance(predictor, Detector) else predictor.config.dataset.get('eval_preprocess', 'resize'),
                    'crop_fraction': predictor.config.dataset.get('crop_fraction', 0.875)},
          'class_names': list(predictor.class_names),
          'category_ids': list(predictor.category_ids) if isinstance(predictor, Detector) else None}


README = """# Exported {kind}

Input `images`: float32 ({n}, {h}, {w}, {c}) (pad a smaller batch), pixels / 255 resized as below, then (x - mean) / std with
mean {mean} and std {std} ({channels}).
{resize}
Outputs: {outputs}
Class names (label i) and the rest of this spec: input.json. vision_jax's own predictor
(`vision_jax.inference.load(WORKDIR)`) does all of this for you.
"""


def readme(spec: dict) -> str:
  inp = spec['input']
  n, (h, w, c) = inp['shape'][0], inp['shape'][1:]
  resize = inp['resize']
  if spec['kind'] == 'classifier':
    how = ('Resize: the whole image to {h}x{w} (bilinear, antialiased).' if resize == 'resize' else
           'Resize: shorter side to {h} / crop_fraction ({cf}), then the central {h}x{w}.').format(h=h, w=w, cf=inp['crop_fraction'])
    outputs = '`logits` (N, classes) and `probabilities` (their softmax).'
  else:
    how = {'stretch': 'Resize: each axis to {h}x{w} (bilinear); boxes map back by dividing y by {h}/height, x by {w}/width.',
           'letterbox': 'Resize: aspect kept, longer side to {h} (bilinear), padded bottom-right with the mean colour; '
                        'boxes map back by dividing by that one scale.'}.get(
        resize if isinstance(resize, str) else 'min_max',
        'Resize: R-CNN min/max {r} (aspect kept, padded bottom-right with the mean colour); boxes map back by dividing by the scale.'
    ).format(h=h, w=w, r=resize)
    outputs = ('`boxes` (N, D, 4) [ymin, xmin, ymax, xmax] in input pixels, `scores` (N, D), `labels` (N, D) '
               '0-based, `valid` (N, D): the detections after the family\'s NMS, padded to D.')
  return README.format(kind=spec['kind'], n=n, h=h, w=w, c=c, mean=inp['mean'], std=inp['std'],
                       channels='grey' if c == 1 else 'RGB', resize=how, outputs=outputs)


def export(workdir: str, fmt: str, out: str = '', batch_size: int = 1) -> str:
  """Exports WORKDIR's model in format `fmt` for batches of batch_size to `out` (default
  WORKDIR/export/<fmt>); returns it."""
  if fmt not in FORMATS:
    raise UserError(f'unknown export format {fmt!r}; choose one of: {", ".join(FORMATS)}')
  predictor = exportable(load(workdir, conv_impl='xla'))
  out = out or os.path.join(workdir, 'export', fmt)
  os.makedirs(out, exist_ok=True)
  {'saved_model': export_saved_model, 'onnx': export_onnx}[fmt](predictor, out, batch_size)
  spec = input_spec(predictor, batch_size)
  with open(os.path.join(out, 'input.json'), 'w') as f:
    json.dump(spec, f, indent=1)
  with open(os.path.join(out, 'README.md'), 'w') as f:
    f.write(readme(spec))
  return out


def export_command(config, workdir: str) -> str:
  """launch.py with --config.export=FORMAT."""
  out = export(workdir, config.export, batch_size=config.get('export_batch_size', 1))
  print(f'wrote {out}')
  return out
