"""Few-shot transfer on the bundled digits: EfficientNet-Lite0 from scratch, as an ImageNet
linear probe, or fine-tuned (digits resized to 224x224, grey repeated to RGB).

  python launch.py --config=configs/digits_transfer.py:probe --workdir=DIR \\
      --config.dataset.examples_per_class=5 --config.seed=0

arg: 'scratch' | 'probe' | 'finetune', optionally followed by ',smoke' (64x64, 4 steps).
The experiment grid (1/5/10/all labels per class, 3 seeds) and its table are in
experiments/transfer/ once run; expected: pretrained clearly above scratch at 1-10 labels.
"""

from configs import common

HEAD = 'fc'


def get_config(arg='probe'):
  mode, _, smoke = (arg or 'probe').partition(',')
  if mode not in ('scratch', 'probe', 'finetune'):
    raise ValueError(f"digits_transfer arg must be scratch, probe or finetune, got {mode!r}")
  c = common.classification_config()
  c.dataset.name = 'digits'
  c.dataset.image_size = 224
  c.dataset.channels = 3
  c.dataset.mean = (127.0 / 255,)  # EfficientNet-Lite's (x - 127) / 128 in 0-255 units
  c.dataset.std = (128.0 / 255,)
  c.dataset.examples_per_class = 10
  c.model.name = 'efficientnet_lite0'
  c.model.dropout_rate = 0.2
  c.model.drop_path_rate = 0.2
  c.optimizer.name = 'adamw'
  c.optimizer.weight_decay = 1e-4
  c.schedule.name = 'cosine'
  c.schedule.warmup_steps = 10
  c.batch_size = 10
  c.eval_batch_size = 120
  c.num_train_steps = 200
  c.log_every_steps = 20
  c.eval_every_steps = 200
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 1
  if mode == 'scratch':
    c.schedule.base_lr = 1e-3
  else:
    c.init_from = 'efficientnet_lite0_imagenet'
    if mode == 'probe':
      common.linear_probe(c, HEAD)
      c.schedule.base_lr = 1e-2
    else:
      common.fine_tune(c, HEAD, backbone_lr_multiplier=0.1)
      c.schedule.base_lr = 1e-3
  if smoke == 'smoke':
    common.smoke(c)
    c.dataset.image_size = 64
    c.batch_size = 10
    c.eval_batch_size = 120
  return c
