"""Your own data on disk, read into plain records without TensorFlow: one folder per class
('image_folder'), a COCO-style annotation JSON beside its images ('coco_json') and a PASCAL VOC
devkit folder ('voc_folder'). The files are listed once, sorted, and every image and annotation is
validated at start-up: a bad one becomes a Problem naming its file or annotation id. The caller
stops with the list, or with dataset.skip_bad drops those items (the records here already leave
them out). Nothing is ever written into the data folders.
"""

import concurrent.futures
import dataclasses
import json
import math
import os
import xml.etree.ElementTree as ET
from typing import Optional

import numpy as np
from absl import logging
from PIL import Image

from vision_jax.errors import UserError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif')
VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
               'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')
BOX_TOLERANCE = 1.0   # pixels a box may pass its image's edge (rounding in real annotations); clipped
MAX_LISTED = 20


@dataclasses.dataclass(frozen=True)
class Problem:
  """One bad item: where (a file name or 'annotation ID') and what is wrong with it."""
  where: str
  what: str

  def __str__(self) -> str:
    return f'{self.where}: {self.what}'


@dataclasses.dataclass
class DetectionRecord:
  """One image with its boxes: [ymin, xmin, ymax, xmax] normalised to the image, contiguous labels,
  `crowd` (COCO iscrowd, VOC difficult: not trained on, ignored in evaluation) and `area` (COCO's
  segment area in pixels; -1: the box's own)."""
  path: str
  image_id: int
  height: int
  width: int
  boxes: np.ndarray
  labels: np.ndarray
  crowd: np.ndarray
  area: np.ndarray


@dataclasses.dataclass
class DetectionSet:
  """A split's records, its class names and, for COCO JSON, the dataset's category ids (label i is
  category_ids[i]) and the ground truth pycocotools evaluates against (the JSON less skipped items)."""
  records: list[DetectionRecord]
  class_names: tuple[str, ...]
  category_ids: Optional[tuple[int, ...]] = None
  coco_ground_truth: Optional[dict] = None


def resolve(problems: list[Problem], skip_bad: bool, what: str) -> None:
  """Stops with the list of problems (the first MAX_LISTED, then a count) unless skip_bad, which
  logs how many items were skipped; the records passed on already leave them out."""
  if not problems:
    return
  if skip_bad:
    logging.warning('%s: skipped %d bad items (dataset.skip_bad); the first: %s', what, len(problems), problems[0])
    return
  lines = [str(p) for p in problems[:MAX_LISTED]]
  if len(problems) > MAX_LISTED:
    lines.append(f'... and {len(problems) - MAX_LISTED} more')
  raise UserError(f'{what}: {len(problems)} bad items (fix them, or set dataset.skip_bad=True to train on '
                  'the rest):\n  ' + '\n  '.join(lines))


def image_size(path: str, decode: bool = True) -> tuple[int, int] | str:
  """(height, width) of an image file, or what is wrong with it. decode=True decodes the whole
  file (finds truncated or corrupt data); False reads only its header (fast, for large folders)."""
  try:
    with Image.open(path) as image:
      if decode:
        image.load()
      return image.height, image.width
  except FileNotFoundError:
    return 'file does not exist'
  except Exception as e:  # PIL raises many types for bad files; each is a bad item here
    return f'cannot be read as an image ({type(e).__name__}: {e})'


def image_sizes(paths: list[str], decode: bool = True) -> list[tuple[int, int] | str]:
  """image_size of every path, in threads (decoding releases the GIL)."""
  with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
    return list(pool.map(lambda p: image_size(p, decode), paths))


def image_files(folder: str) -> list[str]:
  """Image files under folder (recursively), sorted; other files are ignored."""
  found = []
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
  return found


def existing_dir(path: str, key: str) -> str:
  """path, or one line saying that the folder config key `key` names is missing."""
  if not path:
    raise UserError(f'dataset.{key} is not set')
  if not os.path.isdir(path):
    raise UserError(f'dataset.{key} {path} is not a folder')
  return path


def class_folders(root: str, key: str) -> tuple[str, ...]:
  """The sorted subfolder names of root: the class names, label i = the i-th name."""
  names = tuple(sorted(d for d in os.listdir(existing_dir(root, key)) if os.path.isdir(os.path.join(root, d))))
  if not names:
    raise UserError(f'dataset.{key} {root} has no class subfolders (one folder of images per class)')
  return names


def read_image_folder(root: str, key: str, class_names: tuple[str, ...], decode: bool = True
                      ) -> tuple[list[str], list[int], list[Problem]]:
  """(paths, labels, problems) of a folder of class folders whose names are among class_names."""
  paths, labels, problems = [], [], []
  for name in class_folders(root, key):
    folder = os.path.join(root, name)
    if name not in class_names:
      problems.append(Problem(folder, f'class folder not among the training classes ({", ".join(class_names)})'))
      continue
    files = image_files(folder)
    if not files:
      problems.append(Problem(folder, f'empty folder: no {"/".join(e[1:] for e in IMAGE_EXTENSIONS)} images'))
    paths += files
    labels += [class_names.index(name)] * len(files)
  readable = readable_images(paths, decode, problems)
  return [p for p, ok in zip(paths, readable) if ok], [l for l, ok in zip(labels, readable) if ok], problems


def readable_images(paths: list[str], decode: bool, problems: list[Problem]) -> list[bool]:
  """Whether each image can be read; a Problem is added to `problems` for each that cannot."""
  sizes = image_sizes(paths, decode)
  problems += [Problem(path, size) for path, size in zip(paths, sizes) if isinstance(size, str)]
  return [not isinstance(size, str) for size in sizes]


def read_image_files(root: str, key: str, decode: bool = True) -> tuple[list[str], list[Problem]]:
  """(readable image paths, problems) of every image under root (e.g. pix2pix's A|B pairs)."""
  paths, problems = image_files(existing_dir(root, key)), []
  if not paths:
    problems.append(Problem(root, f'empty folder: no {"/".join(e[1:] for e in IMAGE_EXTENSIONS)} images'))
  readable = readable_images(paths, decode, problems)
  return [p for p, ok in zip(paths, readable) if ok], problems


def box_problem(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Optional[str]:
  """What is wrong with a pixel box [x0, y0, x1, y1] in a width x height image, or None."""
  if not (x1 > x0 and y1 > y0):
    return f'box [x0 {x0:g}, y0 {y0:g}, x1 {x1:g}, y1 {y1:g}] has no area'
  if x0 < -BOX_TOLERANCE or y0 < -BOX_TOLERANCE or x1 > width + BOX_TOLERANCE or y1 > height + BOX_TOLERANCE:
    return f'box [x0 {x0:g}, y0 {y0:g}, x1 {x1:g}, y1 {y1:g}] is outside its {width}x{height} image'
  return None


def normalised(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> list[float]:
  """[ymin, xmin, ymax, xmax] / image size, clipped to the image."""
  return [min(max(v / size, 0.0), 1.0) for v, size in ((y0, height), (x0, width), (y1, height), (x1, width))]


def make_record(path: str, image_id: int, height: int, width: int, objects: list[tuple]) -> DetectionRecord:
  """A record from objects [(normalised box, label, crowd, area)]."""
  boxes, labels, crowd, area = zip(*objects) if objects else ((), (), (), ())
  return DetectionRecord(path, image_id, height, width, np.asarray(boxes, np.float32).reshape(-1, 4),
                         np.asarray(labels, np.int32), np.asarray(crowd, bool), np.asarray(area, np.float32))


def load_json(path: str, key: str) -> dict:
  """A COCO-style annotation file as a dict, or one line saying why it cannot be read."""
  if not path:
    raise UserError(f'dataset.{key} is not set')
  try:
    with open(path) as f:
      data = json.load(f)
  except FileNotFoundError:
    raise UserError(f'dataset.{key} {path} does not exist') from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise UserError(f'dataset.{key} {path} is not valid JSON ({e})') from None
  missing = [k for k in ('images', 'annotations', 'categories') if not isinstance(data, dict) or k not in data]
  if missing:
    raise UserError(f'dataset.{key} {path} is not COCO-style: no {", ".join(missing)}')
  return data


def image_entry_problem(im) -> Optional[str]:
  """What is malformed in a COCO "images" entry (id an integer, file_name a string, height and
  width integers when given), or None."""
  def integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
  if not isinstance(im, dict) or not integer(im.get('id')) or not isinstance(im.get('file_name'), str):
    return f'needs an integer "id" and a string "file_name", got {json.dumps(im)[:80]}'
  if not all(integer(im.get(k, -1)) for k in ('height', 'width')):
    return f'height and width must be integers, got {json.dumps([im.get("height"), im.get("width")])}'
  return None


def annotation_numbers(ann: dict) -> tuple[tuple[float, ...], float, bool] | str:
  """A COCO annotation's (bbox (x, y, w, h), area (-1: absent), iscrowd) as numbers, or what is
  malformed: bbox not 4 numbers, area or iscrowd not a number (strings, nulls, lists)."""
  def number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
  bbox = ann.get('bbox', (0, 0, 0, 0))
  if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(number(v) for v in bbox):
    return f'bbox must be 4 numbers [x, y, width, height], got {json.dumps(bbox)[:60]}'
  for key, default in (('area', -1), ('iscrowd', 0)):
    if not number(ann.get(key, default)):
      return f'{key} must be a number, got {json.dumps(ann[key])[:60]}'
  return tuple(float(v) for v in bbox), float(ann.get('area', -1)), bool(ann.get('iscrowd', 0))


def read_coco_json(path: str, key: str, image_dir: str = '', decode: bool = True,
                   category_ids: Optional[tuple[int, ...]] = None) -> tuple[DetectionSet, list[Problem]]:
  """The images and boxes of a COCO-style JSON (image paths relative to image_dir, else to the JSON's
  folder). Labels are the categories sorted by id (or the training split's category_ids); crowd
  boxes are kept with crowd=True; images without annotations are kept as negatives."""
  data = load_json(path, key)
  names = {int(c['id']): str(c.get('name', c['id'])) for c in data['categories']}
  ids = category_ids or tuple(sorted(names))
  label_of = {c: i for i, c in enumerate(ids)}
  folder = image_dir or os.path.dirname(os.path.abspath(path))
  problems, images = [], {}
  for index, im in enumerate(data['images']):
    problem = image_entry_problem(im)
    if problem:
      problems.append(Problem(f'image entry {index}', problem))
    else:
      images[im['id']] = im
  order = sorted(images)
  paths = [os.path.join(folder, images[i]['file_name']) for i in order]
  readable = {}
  for image_id, file, size in zip(order, paths, image_sizes(paths, decode)):
    listed = (images[image_id].get('height', -1), images[image_id].get('width', -1))
    if isinstance(size, str):
      problems.append(Problem(file, size))
    elif size != listed:
      problems.append(Problem(file, f'is {size[1]}x{size[0]} pixels but the JSON says {listed[1]}x{listed[0]}'))
    else:
      readable[image_id] = size
  objects = {i: [] for i in readable}
  kept = []
  for ann in data['annotations']:
    where = f'annotation {ann.get("id", "?")}'
    image_id, category = ann.get('image_id'), ann.get('category_id')
    if image_id not in images:
      problems.append(Problem(where, f'names image_id {image_id}, which is not in "images"'))
      continue
    if category not in label_of:
      problems.append(Problem(where, f'unknown category_id {category} (categories: {", ".join(map(str, ids))})'))
      continue
    if image_id not in readable:
      continue  # its image is already listed as a problem
    height, width = readable[image_id]
    fields = annotation_numbers(ann)
    if isinstance(fields, str):
      problems.append(Problem(where, f'{fields} ({images[image_id]["file_name"]})'))
      continue
    (x, y, w, h), area, crowd = fields
    problem = box_problem(x, y, x + w, y + h, width, height)
    if problem:
      problems.append(Problem(where, f'{problem} ({images[image_id]["file_name"]})'))
      continue
    objects[image_id].append((normalised(x, y, x + w, y + h, width, height), label_of[category], crowd, area))
    kept.append({**ann, 'area': area if area > 0 else w * h, 'iscrowd': int(crowd)})
  records = [make_record(os.path.join(folder, images[i]['file_name']), i, *readable[i], objects[i])
             for i in order if i in readable]
  truth = {'images': [images[i] for i in order if i in readable], 'annotations': kept,
           'categories': [{'id': c, 'name': names.get(c, str(c))} for c in ids]}
  return DetectionSet(records, tuple(names.get(c, str(c)) for c in ids), ids, truth), problems


def voc_split_ids(root: str, split: str) -> list[str]:
  """The image ids listed in root/ImageSets/Main/<split>.txt; 'train+val' joins two lists."""
  ids = []
  for name in split.split('+'):
    listing = os.path.join(existing_dir(root, 'root'), 'ImageSets', 'Main', f'{name}.txt')
    if not os.path.isfile(listing):
      raise UserError(f'VOC folder {root} has no ImageSets/Main/{name}.txt (the list of the {name} images)')
    with open(listing) as f:
      ids += [line.split()[0] for line in f if line.strip()]
  return ids


def parse_voc_xml(path: str) -> tuple[tuple[int, int], list[tuple[str, bool, tuple[float, ...]]]] | str:
  """((height, width), [(name, difficult, (xmin, ymin, xmax, ymax))]) of one annotation file, or
  what is wrong with it."""
  try:
    root = ET.parse(path).getroot()
    size = root.find('size')
    hw = (int(float(size.find('height').text)), int(float(size.find('width').text)))
    objects = []
    for obj in root.findall('object'):
      box = obj.find('bndbox')
      difficult = obj.find('difficult')
      objects.append((obj.find('name').text.strip(), difficult is not None and difficult.text.strip() == '1',
                      tuple(float(box.find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax'))))
    return hw, objects
  except FileNotFoundError:
    return 'annotation file does not exist'
  except (ET.ParseError, AttributeError, TypeError, ValueError) as e:
    return f'not a VOC annotation ({type(e).__name__}: {e}; needs size/height, size/width and each object\'s name and bndbox)'


def voc_class_names(root: str, splits: tuple[str, ...], given: tuple[str, ...] = ()) -> tuple[str, ...]:
  """dataset.class_names when given; else VOC's 20 classes when every name in the splits' XML is one
  of them; else the sorted names found there."""
  if given:
    return tuple(given)
  found = set()
  for image_id in sorted({i for split in splits for i in voc_split_ids(root, split)}):
    parsed = parse_voc_xml(os.path.join(root, 'Annotations', f'{image_id}.xml'))
    found |= set() if isinstance(parsed, str) else {name for name, _, _ in parsed[1]}
  return VOC_CLASSES if found <= set(VOC_CLASSES) else tuple(sorted(found))


def read_voc_folder(root: str, split: str, class_names: tuple[str, ...], decode: bool = True
                    ) -> tuple[DetectionSet, list[Problem]]:
  """The images and boxes of one split of a VOC-layout folder; boxes normalised as TFDS voc does
  (pixel coordinates / image size); difficult boxes kept with crowd=True."""
  ids = voc_split_ids(root, split)
  paths = [os.path.join(root, 'JPEGImages', f'{i}.jpg') for i in ids]
  problems, records = [], []
  for index, (image_id, path, size) in enumerate(zip(ids, paths, image_sizes(paths, decode))):
    xml = os.path.join(root, 'Annotations', f'{image_id}.xml')
    parsed = parse_voc_xml(xml)
    if isinstance(size, str) or isinstance(parsed, str):
      problems.append(Problem(path, size) if isinstance(size, str) else Problem(xml, parsed))
      continue
    if parsed[0] != size:
      problems.append(Problem(xml, f'says {parsed[0][1]}x{parsed[0][0]} pixels; {path} is {size[1]}x{size[0]}'))
      continue
    objects = []
    for k, (name, difficult, (x0, y0, x1, y1)) in enumerate(parsed[1]):
      problem = (f'unknown class {name!r}' if name not in class_names
                 else box_problem(x0, y0, x1, y1, size[1], size[0]))
      if problem:
        problems.append(Problem(f'{xml} object {k}', problem))
        continue
      objects.append((normalised(x0, y0, x1, y1, size[1], size[0]), class_names.index(name), difficult, -1.0))
    records.append(make_record(path, index, *size, objects))
  return DetectionSet(records, tuple(class_names)), problems
