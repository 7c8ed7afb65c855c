"""Defaults shared by the configs: complete classification, detection, GAN and inpainting configs,
evaluator entries, and the smoke shrinker."""

import ml_collections

from vision_jax.detection import default_boxes as layouts


def evaluator(type_: str, every_steps: int = -1, **keys) -> ml_collections.ConfigDict:
  """A config.evals entry: its type, cadence (-1: config.eval_every_steps; 0: the last step only)
  and type-specific keys (see vision_jax/evaluation/)."""
  return ml_collections.ConfigDict({'type': type_, 'every_steps': every_steps, **keys})


def own_data_keys(d: ml_collections.ConfigDict) -> None:
  """The keys of data on disk (vision_jax/data/file_sources.py): name 'image_folder', 'coco_json' or
  'voc_folder' reads them; other sources ignore them."""
  d.train_dir = ''                 # image_folder: one subfolder of images per class (sorted names = labels)
  d.eval_dir = ''                  # image_folder: the same class folders for evaluation
  d.train_annotations = ''         # coco_json: the training annotation JSON
  d.eval_annotations = ''          # coco_json: the evaluation annotation JSON
  d.image_dir = ''                 # coco_json: folder the JSON's file_names are relative to ('' = the JSON's)
  d.root = ''                      # voc_folder: holds Annotations/, JPEGImages/, ImageSets/Main/
  d.train_list = 'trainval'        # voc_folder: ImageSets/Main/<train_list>.txt ('+' joins lists)
  d.eval_list = 'test'             # voc_folder: ImageSets/Main/<eval_list>.txt
  d.class_names = ()               # voc_folder: () = VOC's 20 when the XML names only those, else the names found
  d.skip_bad = False               # files: skip bad images/annotations (logged) instead of stopping with the list
  d.check_images = 'decode'        # files: 'decode' every image at start-up, or 'header' (fast; large folders)
  d.cache = False                  # files: keep decoded train images in memory (small sets)


def base_config(task: str) -> ml_collections.ConfigDict:
  """The keys every task reads: task, seed, the image dataset, optimizer and schedule, global batch
  sizes, run length and cadences, checkpoints, multi-process timeouts, evaluators (none yet)."""
  c = ml_collections.ConfigDict()
  c.task = task
  c.seed = 0

  c.dataset = ml_collections.ConfigDict()
  c.dataset.name = 'digits'
  c.dataset.data_dir = ''          # TFDS data dir; '' means TFDS_DATA_DIR or ~/tensorflow_datasets.
  c.dataset.train_split = 'train'
  c.dataset.eval_split = 'test'
  c.dataset.image_size = 0         # 0 keeps the native size.
  c.dataset.mean = (0.5,)          # normalisation per channel (or one value for all), in [0, 1] pixel units
  c.dataset.std = (0.5,)
  c.dataset.augment = 'none'       # TFDS train: 'none' | 'flip' | 'crop_flip' | 'inception_crop_flip' | 'center_crop(_flip)'
  c.dataset.label_key = 'label'    # TFDS: the label feature; '' reads unlabelled images (label 0)
  c.dataset.crop_padding = 4       # crop_flip: zero padding in pixels before the random crop
  c.dataset.eval_preprocess = 'resize'  # TFDS eval: 'resize' | 'center_crop'
  c.dataset.crop_fraction = 0.875  # center_crop: the crop's share of the resized shorter side (224 of 256)
  c.dataset.max_shift = 0          # bundled digits: random translation in pixels
  c.dataset.channels = 1           # bundled digits: 3 repeats the grey image for RGB backbones
  c.dataset.examples_per_class = 0  # bundled digits: few-shot training subset drawn with `seed` (0 = all)
  c.dataset.shuffle_buffer = 10_000
  own_data_keys(c.dataset)

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = 'sgd'         # 'sgd' | 'adam' | 'adamw'
  c.optimizer.momentum = 0.9
  c.optimizer.nesterov = False
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.weight_decay = 0.0
  c.optimizer.grad_clip_norm = 0.0  # 0 disables clipping

  c.schedule = ml_collections.ConfigDict()
  c.schedule.name = 'cosine'       # 'constant' | 'piecewise' | 'cosine'
  c.schedule.base_lr = 0.1
  c.schedule.warmup_steps = 0
  c.schedule.boundaries = (0.5, 0.75)  # piecewise: fractions of num_train_steps, or steps
  c.schedule.decay_factor = 0.1
  c.schedule.final_lr_fraction = 0.0

  c.batch_size = 128               # global, over all devices and processes
  c.eval_batch_size = 256
  c.num_train_steps = 1000
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 3
  c.restore = 'latest'             # 'latest' | 'latest_valid': skip damaged checkpoints (kept as N.damaged)
  # Multi-process runs: how long to wait for the coordinator, and for a silent peer before stopping.
  c.distributed = ml_collections.ConfigDict({'initialization_timeout_s': 300, 'heartbeat_timeout_s': 100})
  c.evals = ml_collections.ConfigDict()
  return c


def model_keys(c: ml_collections.ConfigDict, name: str) -> None:
  """config.model: the network's name (a zoo classifier, or a detector family's network), its compute
  dtype and CPU convolution; a family adds its own keys to it."""
  c.model = ml_collections.ConfigDict()
  c.model.name = name
  c.model.dtype = 'float32'        # compute dtype: 'float32' | 'bfloat16'; params stay float32
  c.model.conv_impl = 'auto'       # CPU convolution: 'auto' (oneDNN when built) | 'onednn' | 'xla' (vision_jax/ops)


def init_from_key(c: ml_collections.ConfigDict) -> None:
  """config.init_from: where pretrained weights come from (see vision_jax/weights/)."""
  c.init_from = ''                 # '' | a workdir/checkpoints dir | 'efficientnet_lite0_imagenet' | weights file


def transfer_keys(c: ml_collections.ConfigDict) -> None:
  """Transfer learning (see vision_jax/train/freezing.py): parameter paths look like
  'layer4_1/bn2/scale' or 'fc/kernel'; regexes are matched with re.search."""
  init_from_key(c)
  c.freeze = ''                    # regex of parameters that get zero updates (their BatchNorm uses running stats)
  c.freeze_batch_stats = ''        # regex of BatchNorm layers kept on their running statistics while they train
  c.lr_multipliers = ()            # ((regex, multiplier), ...): the first match scales that parameter's lr


def export_keys(c: ml_collections.ConfigDict) -> None:
  """Export of a trained workdir's model instead of training (vision_jax/inference/export.py)."""
  c.export = ''                    # 'saved_model' | 'onnx': write WORKDIR/export/<format>/
  c.export_batch_size = 1          # the exported model's fixed batch size


def classification_config() -> ml_collections.ConfigDict:
  """A complete classification config; experiment files override what differs."""
  c = base_config('classification')
  c.predict_image = ''             # a file or folder: predict with WORKDIR's model instead of training
  export_keys(c)
  model_keys(c, 'lenet5')
  c.label_smoothing = 0.0
  transfer_keys(c)
  c.accum_steps = 1
  c.evals.eval = evaluator('accuracy')
  return c


def run_length(c: ml_collections.ConfigDict, *, num_train_steps: int, batch_size: int, eval_batch_size: int,
               eval_every_steps: int, log_every_steps: int = 100, checkpoint_every_steps: int = 0) -> None:
  """Global batch sizes and step counts; a checkpoint at every evaluation unless told otherwise."""
  c.batch_size, c.eval_batch_size = batch_size, eval_batch_size
  c.num_train_steps, c.log_every_steps, c.eval_every_steps = num_train_steps, log_every_steps, eval_every_steps
  c.checkpoint_every_steps = checkpoint_every_steps or eval_every_steps


def optimize(c: ml_collections.ConfigDict, name: str, base_lr: float, schedule: str = 'cosine',
             weight_decay: float = 0.0, warmup_steps: int = 0, **schedule_keys) -> None:
  """config.optimizer and config.schedule in one call (momentum 0.9 for sgd, the default)."""
  c.optimizer.name, c.optimizer.weight_decay = name, weight_decay
  c.schedule.name, c.schedule.base_lr, c.schedule.warmup_steps = schedule, base_lr, warmup_steps
  c.schedule.update(schedule_keys)


def lenet5_sgd(c: ml_collections.ConfigDict, base_lr: float, warmup_steps: int) -> None:
  """Classic LeNet-5 trained by SGD (Nesterov momentum 0.9, weight decay 5e-4) on a cosine schedule."""
  c.model.name = 'lenet5'
  c.model.features = (6, 16)
  c.model.hidden = (120, 84)
  c.model.dropout_rate = 0.0
  optimize(c, 'sgd', base_lr, weight_decay=5e-4, warmup_steps=warmup_steps)
  c.optimizer.nesterov = True


def linear_probe(c: ml_collections.ConfigDict, head: str) -> None:
  """Train only the classifier `head` on top of the frozen pretrained backbone."""
  c.freeze = f'^(?!{head}/)'
  c.lr_multipliers = ()


def fine_tune(c: ml_collections.ConfigDict, head: str, backbone_lr_multiplier: float = 0.1,
              keep_batch_stats: bool = True) -> None:
  """Train everything, the pretrained backbone at a fraction of the new head's learning rate.

  keep_batch_stats: BatchNorm keeps normalising with its pretrained running statistics (its
  scale and bias still train), which small fine-tuning batches need.
  """
  c.freeze = ''
  c.freeze_batch_stats = '.' if keep_batch_stats else ''
  c.lr_multipliers = ((f'^(?!{head}/)', backbone_lr_multiplier),)


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Shrinks any classification config to a few steps that run in seconds."""
  c.batch_size = 16
  c.eval_batch_size = 16
  c.num_train_steps = 4
  c.log_every_steps = 2
  c.eval_every_steps = 4
  c.checkpoint_every_steps = 2
  c.dataset.shuffle_buffer = 64
  c.schedule.warmup_steps = 0
  return c


def default_box_config(spec: layouts.DefaultBoxSpec) -> ml_collections.ConfigDict:
  """config.default_boxes for one of the released SSD layouts (vision_jax/detection/default_boxes.py)."""
  return ml_collections.ConfigDict({
      'min_sizes': list(spec.min_sizes), 'max_sizes': list(spec.max_sizes),
      'aspect_ratios': [list(r) for r in spec.aspect_ratios], 'steps': list(spec.steps or ()), 'clip': spec.clip})


def detection_config() -> ml_collections.ConfigDict:
  """The keys every detector family reads: the detection dataset, the model block, transfer,
  prediction, and the evaluators; each family's config adds its own blocks (model keys, boxes,
  matching, losses, NMS)."""
  c = base_config('detection')
  c.detector = 'ssd'                # the detector family (vision_jax/detection/families.py)
  c.dataset.name = 'digit_scenes'
  c.dataset.channels = 3            # RGB (TFDS detection data always is; files and digit scenes follow this)
  c.dataset.num_test_scenes = 500   # digit_scenes: size of the fixed test set
  c.dataset.resize = 'stretch'      # TFDS: 'stretch' to the square input, or 'letterbox' (aspect kept, padded)
  c.dataset.brightness = 32 / 255   # augment 'photometric'/'ssd': brightness shift (SSD's 32/255)
  c.dataset.gamma = 0.0             # augment 'photometric'/'ssd': log-gamma range (0: no gamma)
  c.predict_image = ''              # a file or folder: predict with WORKDIR's model instead of training
  c.predict_score_threshold = 0.3
  c.predict_annotate = False        # prediction also draws each image's detections (predictions/.../annotated)
  export_keys(c)
  model_keys(c, 'ssd300_vgg16')
  transfer_keys(c)
  # VOC AP (and COCO metrics on COCO data) on the eval cadence; test pictures with detections in
  # WORKDIR/plots/predictions.png after training (num_images 0 turns them off).
  c.evals.eval = evaluator('detection_ap')
  c.evals.pictures = evaluator('detection_pictures', 0, num_images=8, score_threshold=0.3)
  return c


def ssd_config() -> ml_collections.ConfigDict:
  """A complete SSD detection config: default boxes (SSD300's VOC layout), matching and NMS."""
  c = detection_config()
  c.default_boxes = default_box_config(layouts.SSD300_VOC)
  c.matching = ml_collections.ConfigDict({'iou_threshold': 0.5, 'neg_pos_ratio': 3.0})
  c.nms = ml_collections.ConfigDict({'score_threshold': 0.01, 'iou_threshold': 0.45, 'pre_nms_top_k': 200,
                                     'max_detections': 200})
  return c


def faster_rcnn_config(backbone: str = 'resnet50', neck: str = 'fpn') -> ml_collections.ConfigDict:
  """A complete Faster R-CNN detection config (torchvision's defaults; detection/faster_rcnn.py):
  backbone a models/backbones.py name, neck 'fpn' or 'none' (the paper's C4 variant)."""
  c = detection_config()
  c.detector = 'faster_rcnn'
  c.model.update({
      'name': 'faster_rcnn', 'backbone': backbone, 'neck': neck,
      'anchor_sizes': [[32], [64], [128], [256], [512]] if neck == 'fpn' else [[128, 256, 512]],
      'aspect_ratios': [0.5, 1.0, 2.0],
      'rpn_pre_nms_top_n_train': 2000, 'rpn_post_nms_top_n_train': 2000,   # per level / kept
      'rpn_pre_nms_top_n_test': 1000, 'rpn_post_nms_top_n_test': 1000,
      'rpn_nms_threshold': 0.7, 'rpn_batch_size_per_image': 256, 'rpn_positive_fraction': 0.5,
      'box_batch_size_per_image': 512, 'box_positive_fraction': 0.25, 'box_foreground_iou': 0.5,
      'roi_aligned': False,  # torchvision's MultiScaleRoIAlign (True: the half-pixel-corrected RoIAlign)
      'roi_align_impl': 'gather',  # or 'matmul' (faster on CPU for small feature maps)
  })
  c.losses = ml_collections.ConfigDict({'rpn_beta': 1 / 9, 'box_beta': 1 / 9})  # torchvision's; 0 = L1
  # torchvision's inference: score > 0.05, per-class NMS 0.5, 100 per image; pre_nms_top_k caps
  # each class's NMS input (>= rpn_post_nms_top_n_test is torchvision's exact behaviour).
  c.nms = ml_collections.ConfigDict({'score_threshold': 0.05, 'iou_threshold': 0.5, 'pre_nms_top_k': 1000,
                                     'max_detections': 100})
  freeze_imagenet_backbone(c, backbone)
  c.evals.eval.plot_keys = ('mAP50', 'rpn_recall')
  return c


def freeze_imagenet_backbone(c: ml_collections.ConfigDict, backbone: str) -> None:
  """ImageNet ResNets: stem and first stage frozen, every BatchNorm frozen, its scale and shift too
  (torchvision's trainable_backbone_layers=3 with FrozenBatchNorm2d; detectron2's FREEZE_AT=2); VGG-16
  from conv3_1 up (Ren et al.); other backbones train whole."""
  if backbone.startswith('resnet'):
    c.freeze = r'^backbone/(conv1|bn1|layer1_|layer\d_\d+/(bn\d|downsample/bn)/)'
    c.freeze_batch_stats = '^backbone/'
  elif backbone == 'vgg16_c4':
    c.freeze = '^backbone/conv[12]_'


def retinanet_config(backbone: str = 'resnet50') -> ml_collections.ConfigDict:
  """A complete RetinaNet detection config (torchvision's retinanet_resnet50_fpn defaults;
  detection/retinanet.py)."""
  c = detection_config()
  c.detector = 'retinanet'
  c.model.update({
      'name': 'retinanet', 'backbone': backbone,
      'levels': ['C3', 'C4', 'C5'],          # the FPN adds P6, P7 for the 5 anchor size groups
      'anchor_sizes': [[x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))] for x in (32, 64, 128, 256, 512)],
      'aspect_ratios': [0.5, 1.0, 2.0], 'fpn_features': 256, 'head_convs': 4,
      'head_norm': 'none',                   # 'group': GroupNorm in the heads (torchvision's _v2)
      'prior_probability': 0.01})
  c.matching = ml_collections.ConfigDict({'positive_iou': 0.5, 'negative_iou': 0.4})
  c.losses = ml_collections.ConfigDict({'focal_alpha': 0.25, 'focal_gamma': 2.0})
  # torchvision's inference: per level the best 1000 (anchor, class) scores above 0.05, NMS per class at
  # 0.5, 300 per image.
  c.nms = ml_collections.ConfigDict({'score_threshold': 0.05, 'iou_threshold': 0.5, 'pre_nms_top_k': 1000,
                                     'max_detections': 300})
  freeze_imagenet_backbone(c, backbone)
  return c


def digit_scenes_detection(c: ml_collections.ConfigDict, arg, batch_size: int) -> ml_collections.ConfigDict:
  """The bundled digit scenes (grey, photometric augmentation) with the demos' 2,000-step AdamW run
  for any detector config; arg 'smoke' shrinks it to 4 steps on 16 test scenes."""
  c.dataset.name = 'digit_scenes'
  c.dataset.channels = 1
  c.dataset.mean = (0.25,)
  c.dataset.std = (0.25,)
  c.dataset.augment = 'photometric'  # gamma, brightness and contrast (digits flipped are not digits)
  c.dataset.brightness = 0.25        # brightness shift; with gamma down to 0.5 backgrounds reach the
  c.dataset.gamma = 0.7              # SSD's 'bright' evaluator's levels, glyphs lose contrast as there
  c.dataset.value_gain = 0.0         # photometric: pixels x U(1 - value_gain, 1 + value_gain) (Ultralytics' hsv_v)
  c.dataset.background_level = 0.0   # test scenes: > 0 draws backgrounds with mean levels up to it
  optimize(c, 'adamw', 2e-3, weight_decay=1e-4, warmup_steps=200)
  run_length(c, num_train_steps=2000, batch_size=batch_size, eval_batch_size=100, eval_every_steps=500)
  if 'smoke' in options(arg):
    smoke(c)
    c.dataset.num_test_scenes = 16
    c.evals.pictures.num_images = 4
  return c


def options(arg, allowed: tuple[str, ...] = ('smoke',)) -> set[str]:
  """The comma-separated options of a config arg (None or '': none); a ValueError naming the allowed
  ones for anything else, so a mistyped arg stops the launch instead of being ignored."""
  given = set(filter(None, (arg or '').split(',')))
  unknown = sorted(given - set(allowed))
  if unknown:
    raise ValueError(f'unknown config arg {",".join(unknown)!r}; allowed: {", ".join(allowed)} (comma-separated)')
  return given


def choice_and_smoke(arg, choices: tuple[str, ...]) -> tuple[str, bool]:
  """'CHOICE' or 'CHOICE,smoke' (None: the first choice) -> (choice, smoke); a ValueError otherwise."""
  choice, _, option = (arg or choices[0]).partition(',')
  if choice not in choices or option not in ('', 'smoke'):
    raise ValueError(f'arg must be one of {choices}, optionally followed by ",smoke"; got {arg!r}')
  return choice, option == 'smoke'


def yolo_config(size: str = 'n') -> ml_collections.ConfigDict:
  """A complete YOLOv8-style detection config (detection/yolo.py), Ultralytics' defaults."""
  c = detection_config()
  c.detector = 'yolo'
  c.model.update({'name': 'yolov8', 'size': size, 'reg_max': 16,
                  'width': 0.0, 'depth': 0.0,  # 0: the size's own multipliers
                  'p2': False})  # True: yolov8-p2.yaml's extra stride-4 level
  c.losses = ml_collections.ConfigDict({'box': 7.5, 'cls': 0.5, 'dfl': 1.5,   # loss gains
                                        'topk': 10, 'alpha': 0.5, 'beta': 6.0})  # task-aligned assignment
  # Ultralytics' validation NMS: conf 0.001, IoU 0.7, at most 300 per image; pre_nms_top_k caps each
  # class's NMS input.
  c.nms = ml_collections.ConfigDict({'score_threshold': 0.001, 'iou_threshold': 0.7, 'pre_nms_top_k': 300,
                                     'max_detections': 300})
  return c


def yolov1_config(layers: str = 'yolo') -> ml_collections.ConfigDict:
  """A complete YOLOv1 detection config (detection/yolov1.py): the paper's 7x7 grid,
  2 boxes per cell, lambda_coord 5 and lambda_noobj 0.5."""
  c = detection_config()
  c.detector = 'yolov1'
  c.model.update({'name': 'yolov1', 'layers': layers, 'width': 1.0, 'grid_size': 7, 'boxes_per_cell': 2,
                  'hidden': 4096, 'dropout': 0.5, 'batch_norm': False, 'head': 'fc'})
  c.losses = ml_collections.ConfigDict({'coord': 5.0, 'noobj': 0.5})
  c.nms = ml_collections.ConfigDict({'score_threshold': 0.005, 'iou_threshold': 0.5, 'pre_nms_top_k': 200,
                                     'max_detections': 100})
  return c


def generative_config(method: str, image_size: int) -> ml_collections.ConfigDict:
  """The keys every generative method reads over base_config's: the method, images of image_size in
  [-1, 1] (G's tanh range), Adam 2e-4 / 0.5 at a constant rate, batch 64, no scorer."""
  c = base_config('generative')
  c.method = method                # the generative method (vision_jax/generative/)
  c.dataset.image_size = image_size
  c.dataset.mean = (0.5,)
  c.dataset.std = (0.5,)
  c.optimizer.name = 'adam'
  c.optimizer.b1 = 0.5
  c.optimizer.b2 = 0.999
  c.schedule.name = 'constant'
  c.schedule.base_lr = 2e-4
  c.batch_size = 64
  c.scorer = None                  # optional classifier config, trained once per workdir (tasks/generative.py)
  return c


def adversarial_keys(loss: str = 'non_saturating') -> ml_collections.ConfigDict:
  """config.gan: the adversarial game every GAN-trained method plays (generative/adversarial.py)."""
  gan = ml_collections.ConfigDict()
  gan.loss = loss                  # 'non_saturating' | 'hinge' | 'wgan_gp' | 'lsgan'
  gan.d_steps = 1
  gan.gp_weight = 10.0             # wgan_gp
  gan.r1_gamma = 0.0
  gan.spectral_norm = False
  gan.ema_decay = 0.999
  gan.d_lr = 0.0                   # 0: schedule.base_lr
  return gan


def gan_config(image_size: int) -> ml_collections.ConfigDict:
  """A complete DCGAN config (Adam 2e-4/0.5): the adversarial keys plus DCGAN's networks."""
  c = generative_config('dcgan', image_size)
  c.gan = adversarial_keys()
  c.gan.latent_dim = 100
  c.gan.g_widths = (128, 64, 32)
  c.gan.d_widths = (32, 64, 128)
  c.gan.conditional = False        # labels embedded in G, projection in D
  c.gan.sample_batch_stats = True  # sample with the noise batch's BatchNorm statistics (as DCGAN did)
  c.evals = ml_collections.ConfigDict({
      'eval': evaluator('scorer', feature_name='digits'),
      'fid': evaluator('fid', weights='', image_size=299, real_examples=0, record='eval'),
      'samples': evaluator('sample_grid')})
  return c


def cyclegan_config(image_size: int) -> ml_collections.ConfigDict:
  """A complete CycleGAN config with the paper's settings (Zhu et al. 2017): ResNet generators (9
  blocks at 256 px, 6 at 128), 70x70 PatchGAN discriminators, instance norm, LSGAN, cycle weight 10,
  identity 0.5 x cycle, image pools of 50, Adam 2e-4 / beta1 0.5, batch 1, the rate constant for the
  first half and then linearly to 0."""
  c = generative_config('cyclegan', image_size)
  c.gan = adversarial_keys('lsgan')
  c.cyclegan = ml_collections.ConfigDict()
  c.cyclegan.g_width = 64
  c.cyclegan.g_blocks = 9 if image_size >= 256 else 6
  c.cyclegan.d_width = 64
  c.cyclegan.d_layers = 3          # 3: the 70x70 PatchGAN
  c.cyclegan.norm = 'instance'     # 'batch' | 'instance' | 'none'
  c.cyclegan.cycle_weight = 10.0
  c.cyclegan.identity_weight = 0.5  # x cycle_weight; needs both domains with the same channels
  c.cyclegan.pool_size = 50
  c.cyclegan.grid_images = 16      # test inputs shown in WORKDIR/samples/ (A, G_AB(A), G_BA(G_AB(A)))
  c.schedule.name = 'linear'
  c.schedule.decay_start = 0.5     # the paper: 100 epochs at 2e-4, then 100 decaying to 0
  c.batch_size = 1
  c.eval_batch_size = 1
  c.domain_scorer = None           # optional A-vs-B classifier config (tasks/generative.py)
  c.evals = ml_collections.ConfigDict({'eval': evaluator('translation'), 'samples': evaluator('sample_grid')})
  return c


def perceptual_style_keys(c: ml_collections.ConfigDict, image_size: int) -> None:
  """The style methods' shared keys (generative/perceptual.py): the style photo, EfficientNet-Lite0's
  ImageNet features and their layers and weights, Adam at a constant rate, 300 steps of batch 1."""
  c.style = 'sklearn:flower'       # a path, skimage:NAME or sklearn:NAME
  c.dataset.image_size = image_size
  c.dataset.channels = 3
  c.dataset.mean = (127 / 255,) * 3  # EfficientNet-Lite's (x - 127) / 128 in 0-255 units
  c.dataset.std = (128 / 255,) * 3
  init_from_key(c)
  c.init_from = 'efficientnet_lite0_imagenet'
  c.neural_style = ml_collections.ConfigDict()
  c.neural_style.network = 'efficientnet_lite0'
  c.neural_style.content_layer = 'stage5'
  c.neural_style.style_layers = ('stage1', 'stage2', 'stage3', 'stage4', 'stage5')
  c.neural_style.layer_weights = ()  # () = 1 each
  c.neural_style.content_weight = 1.0
  c.neural_style.style_weight = 0.2  # Adam sees only the ratio: 1 and above lose chelsea's cat classes
  c.neural_style.tv_weight = 10.0
  c.optimizer.name = 'adam'
  c.schedule.name = 'constant'
  c.schedule.base_lr = 0.02
  c.schedule.warmup_steps = 0
  run_length(c, num_train_steps=300, batch_size=1, eval_batch_size=1, eval_every_steps=300, log_every_steps=30)


def neural_style_config(image_size: int = 224) -> ml_collections.ConfigDict:
  """A complete neural-style config (Gatys et al. 2016: the image optimised by Adam against a frozen
  classifier's features; generative/neural_style.py): content photo config.content, style photo
  config.style, EfficientNet-Lite0's ImageNet features."""
  c = base_config('generative')
  c.method = 'neural_style'
  c.content = 'skimage:chelsea'    # a path, skimage:NAME or sklearn:NAME
  c.dataset.name = 'content_image'
  c.dataset.image = c.get_ref('content')
  perceptual_style_keys(c, image_size)
  c.evals = ml_collections.ConfigDict({'eval': evaluator('neural_style'), 'samples': evaluator('sample_grid')})
  return c


def fast_style_config(image_size: int = 128) -> ml_collections.ConfigDict:
  """A complete feed-forward style config (Johnson et al. 2016; generative/fast_style.py): a
  transform network trained on content photos for the style photo config.style, with
  neural_style_config's perceptual loss; Adam 1e-3 as the paper."""
  c = base_config('generative')
  c.method = 'fast_style'
  c.dataset = ml_collections.ConfigDict({'name': 'photos', 'eval_photos': ('skimage:chelsea',)})
  perceptual_style_keys(c, image_size)
  c.fast_style = ml_collections.ConfigDict({'width': 32, 'num_blocks': 5, 'grid_images': 4})
  c.neural_style.style_weight = 0.05  # 0.2 (neural_style's) made it paint the style over every photo
  c.schedule.base_lr = 1e-3
  c.evals = ml_collections.ConfigDict({'eval': evaluator('neural_style'), 'samples': evaluator('sample_grid')})
  return c


def inpaint_config(image_size: int, hole: int) -> ml_collections.ConfigDict:
  """A complete inpainting config: a context encoder trained with Pathak et al.'s 0.999 L2 + 0.001
  adversarial loss against gan_config's DCGAN discriminator."""
  c = generative_config('inpaint', image_size)
  c.gan = adversarial_keys()
  c.gan.d_widths = (32, 64, 128)
  c.inpaint = ml_collections.ConfigDict()
  c.inpaint.mask = 'center'        # 'center' | 'random' (one square per image, anywhere)
  c.inpaint.hole = hole            # side of the missing square, in pixels
  c.inpaint.fill = 'mean'          # what the hole holds in G's input: 'mean' of the train pixels, or numbers
  c.inpaint.widths = (32, 64, 128)  # encoder widths (stride-2 levels); the decoder mirrors them
  c.inpaint.bottleneck = 256       # channel-wise fully connected code
  c.inpaint.l2_weight = 0.999
  c.inpaint.adversarial_weight = 0.001
  c.inpaint.grid_images = 16       # test images shown in WORKDIR/samples/
  c.evals = ml_collections.ConfigDict({'eval': evaluator('inpainting'), 'samples': evaluator('sample_grid')})
  return c


def pix2pix_config(image_size: int) -> ml_collections.ConfigDict:
  """A complete pix2pix config (Isola et al. 2017): U-Net G, PatchGAN D on (input, output) pairs,
  GAN + 100 x L1, Adam 2e-4 with beta1 0.5, BatchNorm."""
  c = generative_config('pix2pix', image_size)
  c.gan = adversarial_keys()
  c.pix2pix = ml_collections.ConfigDict()
  c.pix2pix.g_widths = (64, 128, 256, 512, 512, 512, 512, 512)  # the paper's 256 px U-Net (8 levels)
  c.pix2pix.dropout_blocks = 3     # decoder blocks after the innermost with dropout 0.5 (the noise)
  c.pix2pix.d_width = 64
  c.pix2pix.d_layers = 3           # 3: the 70x70 PatchGAN
  c.pix2pix.norm = 'batch'         # 'batch' | 'instance' | 'none'
  c.pix2pix.l1_weight = 100.0
  c.pix2pix.adversarial_weight = 1.0
  c.pix2pix.grid_images = 16       # test pairs shown in WORKDIR/samples/ (input, output, target)
  c.evals = ml_collections.ConfigDict({'eval': evaluator('translation'), 'samples': evaluator('sample_grid')})
  return c
