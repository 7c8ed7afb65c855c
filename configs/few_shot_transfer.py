"""Few-shot transfer on bundled real data: EfficientNet-Lite0 from scratch, as an ImageNet linear
probe, or fine-tuned. Datasets: 'digits' (sklearn 8x8 digits, 10 classes, 360 test) and
'lfw_faces' (scikit-image lfw_subset, faces vs non-faces, 60 test); grey images are resized to
`image_size` and repeated to RGB.

  python launch.py --config=configs/few_shot_transfer.py:digits,probe --workdir=DIR \\
      --config.dataset.examples_per_class=5 --config.seed=0

arg: 'DATASET,MODE' with MODE 'scratch' | 'probe' | 'finetune', optionally ',smoke' (4 steps at 32x32).
Every mode gets the same budget: 100 steps of 10 examples (fewer when fewer are labelled), AdamW,
cosine decay. The grid over 1/5/10/all labels per class and 3 seeds, with its table, is in
experiments/transfer/ (python experiments/transfer/run_grid.py); pretrained beats scratch there.
image_size is 96, not Lite0's 224, to fit that grid into an hour on 2 CPU cores.
"""

from configs import common

HEAD = 'fc'
DATASETS = ('digits', 'lfw_faces')
MODES = ('scratch', 'probe', 'finetune')


def get_config(arg='digits,probe'):
  dataset, mode, *rest = (arg or 'digits,probe').split(',') + ['']
  if dataset not in DATASETS or mode not in MODES:
    raise ValueError(f'few_shot_transfer arg must be DATASET,MODE with DATASET in {DATASETS} and MODE in '
                     f'{MODES}, got {arg!r}')
  c = common.classification_config()
  c.dataset.name = dataset
  c.dataset.image_size = 96
  c.dataset.channels = 3
  c.dataset.mean = (127.0 / 255,)  # EfficientNet-Lite's (x - 127) / 128 in 0-255 units
  c.dataset.std = (128.0 / 255,)
  c.dataset.examples_per_class = 10
  c.model.name = 'efficientnet_lite0'
  c.model.dropout_rate = 0.2
  c.model.drop_path_rate = 0.2
  c.model.bn_momentum = 0.9  # running statistics that settle within 100 steps (from scratch)
  common.optimize(c, 'adamw', 1e-3, weight_decay=1e-4, warmup_steps=10)
  common.run_length(c, num_train_steps=100, batch_size=10, eval_batch_size=60, eval_every_steps=100,
                    log_every_steps=20)
  c.keep_checkpoints = 1
  if mode != 'scratch':
    c.init_from = 'efficientnet_lite0_imagenet'
    if mode == 'probe':
      common.linear_probe(c, HEAD)
      c.schedule.base_lr = 1e-2
    else:
      common.fine_tune(c, HEAD, backbone_lr_multiplier=0.1)
      c.schedule.base_lr = 1e-3
  if 'smoke' in rest:
    common.smoke(c)
    c.dataset.image_size = 32
    c.batch_size = 10
    c.eval_batch_size = 60
  return c
