"""SSD on COCO 2017 (Liu et al. 2016): train on train2017, evaluate on val2017 with pycocotools.

  python launch.py --config=configs/coco_ssd.py:ssd300 --workdir=runs/coco_ssd300 \\
      --config.init_from=/path/to/vgg16-397923af.pth

Paper test-dev AP@[.5:.95]: SSD300 23.2, SSD300* (with expansion, as here) 25.1, SSD512* 28.8.
Not reproduced on this project's machines. Recipe: as configs/voc_ssd.py with COCO's smaller
default boxes and the paper's COCO schedule: lr 1e-3 for 160k iterations, then 1e-4 to 200k and
1e-5 to 240k. metrics.jsonl adds coco_AP, coco_AP50, coco_AP75, coco_APs, coco_APm, coco_APl.
arg: 'ssd300' | 'ssd512' | 'ssdlite', optionally ',smoke'. Needs `tfds build coco/2017`.
"""

from configs.voc_ssd import ssd_config


def get_config(arg='ssd300'):
  c = ssd_config(arg, 'coco/2017', 'coco')
  c.dataset.train_split = 'train'
  c.dataset.eval_split = 'validation'
  if c.num_train_steps > 2:
    c.num_train_steps = 240_000
    c.schedule.boundaries = (160_000, 200_000)
  return c
