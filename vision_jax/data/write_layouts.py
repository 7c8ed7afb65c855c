"""Writes the bundled data to disk in the layouts users hold their own data in, to try them and to
test the file sources against the in-memory ones: the digits as class folders, the digit scenes as
PNGs with a COCO-style JSON or as a VOC devkit folder, the digit domains as pix2pix's A|B pairs. Images are saved as 8-bit PNG (pixels
rounded to 1/255); boxes are the scenes' own, in pixels.

  python -m vision_jax.data.write_layouts --layout=coco_json --out=/tmp/scenes --num_train=400
"""

import json
import os
import xml.etree.ElementTree as ET

import numpy as np
from absl import app, flags
from PIL import Image

from vision_jax.data.digit_scenes import CLASS_NAMES, IMAGE_SIZE, make_scene
from vision_jax.data.digit_domains import load_digit_domains
from vision_jax.data.digits import load_digits_split

LAYOUTS = ('image_folder', 'coco_json', 'voc_folder', 'image_pairs')


def to_uint8(image: np.ndarray) -> np.ndarray:
  """[0, 1] floats -> 8-bit pixels."""
  return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_png(image: np.ndarray, path: str) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(to_uint8(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)).save(path)


def write_class_folders(root: str, split: str, image_size: int = 8) -> list[str]:
  """The digits of a split as root/<digit>/<index>.png (grey); returns the paths in index order."""
  images, labels = load_digits_split(split, image_size)
  paths = []
  for i, (image, label) in enumerate(zip(images, labels)):
    paths.append(os.path.join(root, str(int(label)), f'{i:05d}.png'))
    save_png(image, paths[-1])
  return paths


def write_image_pairs(root: str, split: str) -> list[str]:
  """The digit domains of a split as root/<index>.png, A (grey, as RGB) left and B right, as
  pix2pix's datasets ship; returns the paths in index order."""
  domain_a, domain_b, _ = load_digit_domains(split)
  paths = []
  for i, (a, b) in enumerate(zip(domain_a, domain_b)):
    paths.append(os.path.join(root, f'{i:05d}.png'))
    save_png(np.concatenate([a.repeat(3, -1), b], axis=1), paths[-1])
  return paths


def scenes(split: str, start: int, count: int):
  """(index, image, pixel boxes [ymin, xmin, ymax, xmax], labels) of digit scenes start.. of a split."""
  for index in range(start, start + count):
    image, boxes, labels = make_scene(index, split)
    yield index, image, np.round(boxes * IMAGE_SIZE).astype(int), labels


def write_coco_json(image_dir: str, json_path: str, split: str, start: int, count: int) -> None:
  """Scenes as image_dir/<split>_<index>.png and a COCO-style JSON (file names relative to its folder,
  category id = digit + 1, image id = scene index + 1)."""
  images, annotations = [], []
  for index, image, boxes, labels in scenes(split, start, count):
    path = os.path.join(image_dir, f'{split}_{index:06d}.png')
    save_png(image, path)
    name = os.path.relpath(path, os.path.dirname(os.path.abspath(json_path)))
    images.append({'id': index + 1, 'file_name': name, 'height': IMAGE_SIZE, 'width': IMAGE_SIZE})
    for (y0, x0, y1, x1), label in zip(boxes.tolist(), labels.tolist()):
      annotations.append({'id': len(annotations) + 1, 'image_id': index + 1, 'category_id': label + 1,
                          'bbox': [x0, y0, x1 - x0, y1 - y0], 'area': (x1 - x0) * (y1 - y0), 'iscrowd': 0})
  categories = [{'id': i + 1, 'name': name} for i, name in enumerate(CLASS_NAMES)]
  os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
  with open(json_path, 'w') as f:
    json.dump({'images': images, 'annotations': annotations, 'categories': categories}, f)


def voc_xml(name: str, boxes: np.ndarray, labels: np.ndarray) -> ET.ElementTree:
  """A VOC annotation for one scene (class names are the digits)."""
  root = ET.Element('annotation')
  ET.SubElement(root, 'filename').text = name
  size = ET.SubElement(root, 'size')
  for key, value in (('width', IMAGE_SIZE), ('height', IMAGE_SIZE), ('depth', 3)):
    ET.SubElement(size, key).text = str(value)
  for (y0, x0, y1, x1), label in zip(boxes.tolist(), labels.tolist()):
    obj = ET.SubElement(root, 'object')
    ET.SubElement(obj, 'name').text = CLASS_NAMES[label]
    ET.SubElement(obj, 'difficult').text = '0'
    box = ET.SubElement(obj, 'bndbox')
    for key, value in (('xmin', x0), ('ymin', y0), ('xmax', x1), ('ymax', y1)):
      ET.SubElement(box, key).text = str(value)
  return ET.ElementTree(root)


def write_voc_folder(root: str, split: str, start: int, count: int, list_name: str = '') -> None:
  """Scenes as root/JPEGImages/<id>.jpg (PNG data: the name is VOC's, the pixels stay exact),
  root/Annotations/<id>.xml and root/ImageSets/Main/<list_name or split>.txt."""
  ids = []
  for directory in ('JPEGImages', 'Annotations', os.path.join('ImageSets', 'Main')):
    os.makedirs(os.path.join(root, directory), exist_ok=True)
  for index, image, boxes, labels in scenes(split, start, count):
    ids.append(f'{split}_{index:06d}')
    Image.fromarray(to_uint8(image)).save(os.path.join(root, 'JPEGImages', f'{ids[-1]}.jpg'), format='PNG')
    voc_xml(f'{ids[-1]}.jpg', boxes, labels).write(os.path.join(root, 'Annotations', f'{ids[-1]}.xml'))
  with open(os.path.join(root, 'ImageSets', 'Main', f'{list_name or split}.txt'), 'w') as f:
    f.write(''.join(f'{i}\n' for i in ids))


def write_layout(layout: str, out: str, num_train: int, num_test: int) -> None:
  """One layout of the bundled data under `out` (train and test splits)."""
  if layout in ('image_folder', 'image_pairs'):
    write = write_class_folders if layout == 'image_folder' else write_image_pairs
    write(os.path.join(out, 'train'), 'train')
    write(os.path.join(out, 'test'), 'test')
  elif layout == 'coco_json':
    for split, count in (('train', num_train), ('test', num_test)):
      write_coco_json(os.path.join(out, 'images'), os.path.join(out, f'{split}.json'), split, 0, count)
  else:
    write_voc_folder(out, 'train', 0, num_train, 'trainval')
    write_voc_folder(out, 'test', 0, num_test)


def main(argv):
  del argv
  write_layout(flags.FLAGS.layout, flags.FLAGS.out, flags.FLAGS.num_train, flags.FLAGS.num_test)


if __name__ == '__main__':
  flags.DEFINE_enum('layout', 'coco_json', LAYOUTS, 'which layout to write')
  flags.DEFINE_string('out', None, 'output folder', required=True)
  flags.DEFINE_integer('num_train', 400, 'digit scenes in the train split (coco_json, voc_folder)')
  flags.DEFINE_integer('num_test', 100, 'digit scenes in the test split')
  app.run(main)
