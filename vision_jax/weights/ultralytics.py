"""An Ultralytics YOLOv8 state_dict -> our YOLOv8 variables (models/yolo.py keeps their layout:
module 'model_12/m_0/cv1' is their 'model.12.m.0.cv1').

Users export a trained checkpoint's weights once, in their own environment:
  torch.save(YOLO('best.pt').model.state_dict(), 'yolov8n_state_dict.pt')
and pass that file as config.init_from; we load tensors only (torch.load weights_only=True), never
Ultralytics' pickled model objects.
"""

from vision_jax.weights.convert import convert_state

MARKER_SUFFIX = '.dfl.conv.weight'   # the Detect head's fixed DFL integral: only in YOLOv8-style files


def ultralytics_key(module_path: tuple) -> str:
  """('model_22', 'cv3_1', '2') -> 'model.22.cv3.1.2'; ('model_2', 'm_0', 'cv1', 'bn') -> 'model.2.m.0.cv1.bn'."""
  return '.'.join(name.replace('_', '.') for name in module_path)


def is_ultralytics_detector(state: dict) -> bool:
  return any(k.startswith('model.') and k.endswith(MARKER_SUFFIX) for k in state)


def convert_yolov8(state: dict, template: dict, source: str) -> dict:
  """Variables for every leaf of template; the fixed DFL integral (arange(reg_max)) is dropped."""
  state = {k: v for k, v in state.items() if not k.endswith(MARKER_SUFFIX)}
  return convert_state(state, template, ultralytics_key, source)
