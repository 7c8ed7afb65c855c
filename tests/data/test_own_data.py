"""Your own data on disk: the bundled digits written as class folders and the digit scenes as PNGs
with a COCO JSON or as a VOC folder load back exactly as the in-memory sources give them, and
every kind of bad item is reported by name (or skipped with dataset.skip_bad)."""

import json
import os

import ml_collections
import numpy as np
import pytest
from PIL import Image

from vision_jax.data import build_detection_source, build_source
from vision_jax.data.digit_scenes import scene_batch
from vision_jax.data.digits import load_digits_split
from vision_jax.data.file_sources import eval_shards, read_image, train_shard
from vision_jax.data.write_layouts import write_coco_json, write_layout
from vision_jax.errors import UserError

NUM_TRAIN, NUM_TEST = 24, 12


@pytest.fixture(scope='module')
def layouts(tmp_path_factory):
  root = tmp_path_factory.mktemp('layouts')
  for layout in ('image_folder', 'coco_json', 'voc_folder'):
    write_layout(layout, str(root / layout), NUM_TRAIN, NUM_TEST)
  return root


def folder_config(root, **keys):
  return ml_collections.ConfigDict({'name': 'image_folder', 'train_dir': str(root / 'train'),
                                    'eval_dir': str(root / 'test'), 'image_size': 8, 'channels': 1,
                                    'mean': 0.0, 'std': 1.0, **keys})


def coco_config(root, **keys):
  return ml_collections.ConfigDict({'name': 'coco_json', 'train_annotations': str(root / 'train.json'),
                                    'eval_annotations': str(root / 'test.json'), 'image_size': 128,
                                    'mean': 0.0, 'std': 1.0, 'max_boxes': 6, 'augment': 'none', **keys})


def voc_config(root, **keys):
  return ml_collections.ConfigDict({'name': 'voc_folder', 'root': str(root), 'train_list': 'trainval',
                                    'eval_list': 'test', 'image_size': 128, 'mean': 0.0, 'std': 1.0,
                                    'max_boxes': 6, 'augment': 'none', **keys})


def quantised(images):
  """What an 8-bit PNG of [0, 1] images holds."""
  return np.round(np.clip(images, 0, 1) * 255) / 255


def collected(batches, keys):
  batches = list(batches)
  real = np.concatenate([b['mask'] for b in batches]) > 0
  return {k: np.concatenate([b[k] for b in batches])[real] for k in keys}


def box_sets(boxes, labels, valid):
  """Per image, the sorted (box, label) pairs (sources may order an image's boxes differently)."""
  return [sorted((tuple(b.tolist()), int(l)) for b, l, v in zip(bb, ll, vv) if v)
          for bb, ll, vv in zip(boxes, labels, valid)]


def test_image_folder_gives_the_bundled_digits(layouts):
  source = build_source(folder_config(layouts / 'image_folder'), 16, 16, 0)
  assert source.class_names == tuple(str(d) for d in range(10)) and source.num_classes == 10
  images, labels = load_digits_split('test', 8)
  order = np.lexsort((np.arange(len(labels)), labels))   # class folders, then file names
  got = collected(source.eval_batches(), ('image', 'label'))
  np.testing.assert_array_equal(got['image'], quantised(images[order]))
  np.testing.assert_array_equal(got['label'], labels[order])
  batch = next(source.train_batches())
  assert batch['image'].shape == (16, 8, 8, 1) and batch['label'].dtype == np.int32


def test_coco_json_gives_the_digit_scenes(layouts):
  source = build_detection_source(coco_config(layouts / 'coco_json'), 8, 8, 0)
  assert source.class_names == tuple(str(d) for d in range(10)) and source.category_ids == tuple(range(1, 11))
  got = collected(source.eval_batches(), ('image', 'boxes', 'labels', 'box_valid', 'image_id', 'image_hw'))
  ref = scene_batch('test', 0, NUM_TEST, 3)
  np.testing.assert_array_equal(got['image'], quantised(ref['image']))
  assert box_sets(got['boxes'], got['labels'], got['box_valid']) == box_sets(ref['boxes'], ref['labels'], ref['box_valid'])
  np.testing.assert_array_equal(got['image_id'], np.arange(NUM_TEST) + 1)
  assert (got['image_hw'] == 128).all()


def test_voc_folder_gives_the_digit_scenes(layouts):
  source = build_detection_source(voc_config(layouts / 'voc_folder'), 8, 8, 0)
  assert source.class_names == tuple(str(d) for d in range(10)) and source.category_ids is None
  got = collected(source.eval_batches(), ('image', 'boxes', 'labels', 'box_valid'))
  ref = scene_batch('test', 0, NUM_TEST, 3)
  np.testing.assert_array_equal(got['image'], quantised(ref['image']))
  assert box_sets(got['boxes'], got['labels'], got['box_valid']) == box_sets(ref['boxes'], ref['labels'], ref['box_valid'])


def test_file_train_stream_is_each_file_once_per_epoch_and_resumable(layouts):
  source = build_detection_source(coco_config(layouts / 'coco_json', cache=True), 8, 8, 0)
  stream = source.train_batches(0)
  epoch = np.concatenate([next(stream)['image'] for _ in range(NUM_TRAIN // 8)])
  ref = quantised(scene_batch('train', 0, NUM_TRAIN, 3)['image'])
  assert sorted(map(bytes, np.round(epoch * 255).astype(np.uint8))) == sorted(map(bytes, np.round(ref * 255).astype(np.uint8)))
  later = [next(stream)['image'] for _ in range(2)]
  resumed = source.train_batches(NUM_TRAIN // 8)
  for expected in later:
    np.testing.assert_array_equal(next(resumed)['image'], expected)


def test_files_are_sharded_per_process():
  items = list(range(10))
  assert [train_shard(items, i, 3) for i in range(3)] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
  shards = eval_shards(items, 3)
  assert sum(shards, []) == items and max(map(len, shards)) - min(map(len, shards)) <= 1


FORMATS = [(ext, mode, channels) for ext in ('png', 'bmp', 'gif', 'jpg')
           for mode, channels in (('L', 3), ('LA', 3), ('RGBA', 3), ('RGB', 1), ('L', 1))
           if ext in ('png', 'gif') or 'A' not in mode]   # BMP and JPEG have no alpha


@pytest.mark.parametrize('ext, mode, channels', FORMATS)
def test_every_format_decodes_to_the_asked_channels(tmp_path, ext, mode, channels):
  pixels = np.random.default_rng(0).integers(0, 256, (6, 5, 3), np.uint8)
  image = Image.fromarray(pixels).convert(mode)
  path = str(tmp_path / f'x.{ext}')
  image.save(path)
  decoded = read_image(path, channels).numpy()
  assert decoded.shape == (6, 5, channels) and decoded.dtype == np.uint8
  if ext in ('png', 'bmp'):   # lossless: the pixels are the file's own
    rgb = np.asarray(Image.open(path).convert('RGB'))
    expected = rgb if channels == 3 else np.round(rgb @ np.array([0.2989, 0.587, 0.114]))[..., None]
    assert np.abs(decoded.astype(int) - expected).max() <= (0 if channels == 3 else 1)


def test_first_frame_of_a_gif(tmp_path):
  frames = [Image.fromarray(np.full((4, 4, 3), v, np.uint8)) for v in (10, 200)]
  frames[0].save(tmp_path / 'a.gif', save_all=True, append_images=frames[1:])
  assert read_image(str(tmp_path / 'a.gif'), 3).numpy().shape == (4, 4, 3)
  assert abs(int(read_image(str(tmp_path / 'a.gif'), 3).numpy().mean()) - 10) <= 2


# Bad data: every case is named in the error; skip_bad drops exactly the bad items.

def small_coco(tmp_path, edit=None):
  """A 6-scene COCO JSON in tmp_path (train.json and test.json the same), edited by edit(data)."""
  write_coco_json(str(tmp_path / 'images'), str(tmp_path / 'train.json'), 'test', 0, 6)
  with open(tmp_path / 'train.json') as f:
    data = json.load(f)
  if edit:
    edit(data)
  for name in ('train.json', 'test.json'):
    with open(tmp_path / name, 'w') as f:
      json.dump(data, f)
  return tmp_path


def annotation(data, index=0):
  return data['annotations'][index]


BAD_COCO = {
    'box outside its image': (lambda d: annotation(d).update(bbox=[100, 100, 60, 10]),
                              'annotation 1: box [x0 100, y0 100, x1 160, y1 110] is outside its 128x128 image'),
    'box with no area': (lambda d: annotation(d).update(bbox=[10, 10, 0, 5]), 'annotation 1: box'),
    'unknown category': (lambda d: annotation(d).update(category_id=99), 'annotation 1: unknown category_id 99'),
    'missing image id': (lambda d: annotation(d).update(image_id=12345),
                         'annotation 1: names image_id 12345, which is not in "images"'),
    'image file missing': (lambda d: d['images'][0].update(file_name='images/nothing.png'),
                           'nothing.png: file does not exist'),
    'wrong image size': (lambda d: d['images'][0].update(width=64), 'is 128x128 pixels but the JSON says 64x128'),
    'bbox holding a string': (lambda d: annotation(d).update(bbox=[10, 10, 'wide', 5]),
                              'annotation 1: bbox must be 4 numbers [x, y, width, height], got [10, 10, "wide", 5]'),
    'bbox null': (lambda d: annotation(d).update(bbox=None), 'annotation 1: bbox must be 4 numbers'),
    'bbox of 3 numbers': (lambda d: annotation(d).update(bbox=[1, 2, 3]), 'annotation 1: bbox must be 4 numbers'),
    'area a string': (lambda d: annotation(d).update(area='big'), 'annotation 1: area must be a number, got "big"'),
    'image width a string': (lambda d: d['images'][0].update(width='128'),
                             'image entry 0: height and width must be integers, got [128, "128"]'),
    'image id null': (lambda d: d['images'][0].update(id=None), 'image entry 0: needs an integer "id"'),
}


@pytest.mark.parametrize('case', sorted(BAD_COCO))
def test_bad_coco_annotations_are_listed(tmp_path, case):
  edit, message = BAD_COCO[case]
  root = small_coco(tmp_path, edit)
  with pytest.raises(UserError) as error:
    build_detection_source(coco_config(root), 2, 2, 0)
  assert 'bad items' in str(error.value) and 'skip_bad' in str(error.value)
  assert message in str(error.value) or (case == 'box with no area' and 'has no area' in str(error.value))


def corrupt(path):
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:len(data) // 2])


def test_unreadable_and_corrupt_images_are_listed_and_skipped(tmp_path):
  root = small_coco(tmp_path)
  corrupt(root / 'images' / 'test_000001.png')
  (root / 'images' / 'test_000002.png').write_text('not an image')
  with pytest.raises(UserError) as error:
    build_detection_source(coco_config(root), 2, 2, 0)
  lines = str(error.value).splitlines()
  assert '4 bad items' in lines[0]  # two images, each listed once in train.json and once in test.json
  assert sum('test_000001.png: cannot be read as an image' in l for l in lines) == 2
  assert sum('test_000002.png: cannot be read as an image' in l for l in lines) == 2
  source = build_detection_source(coco_config(root, skip_bad=True), 2, 2, 0)
  assert source.num_eval_examples == 4 and source.num_train_examples == 4
  assert {im['file_name'] for im in source.coco_ground_truth['images']} == {
      f'images/test_00000{i}.png' for i in (0, 3, 4, 5)}


def test_header_check_reads_no_pixels(tmp_path):
  """check_images='header' finds unreadable files but not truncated pixel data (documented)."""
  root = small_coco(tmp_path)
  corrupt(root / 'images' / 'test_000001.png')
  (root / 'images' / 'test_000002.png').write_text('not an image')
  with pytest.raises(UserError, match='2 bad items'):
    build_detection_source(coco_config(root, check_images='header'), 2, 2, 0)


def test_a_bad_annotation_is_skipped_alone(tmp_path):
  root = small_coco(tmp_path, lambda d: annotation(d).update(category_id=99))
  with open(root / 'test.json') as f:
    count = len(json.load(f)['annotations'])
  source = build_detection_source(coco_config(root, skip_bad=True), 2, 2, 0)
  assert len(source.coco_ground_truth['annotations']) == count - 1 and source.num_eval_examples == 6


def test_images_without_annotations_and_crowd_boxes(tmp_path):
  def edit(data):
    data['annotations'] = [a for a in data['annotations'] if a['image_id'] != 1]
    annotation(data).update(iscrowd=1)
  root = small_coco(tmp_path, edit)
  source = build_detection_source(coco_config(root), 6, 6, 0)
  got = collected(source.eval_batches(), ('box_valid', 'difficult', 'image_id'))
  assert not got['box_valid'][list(got['image_id']).index(1)].any()   # kept as a negative
  assert got['difficult'].sum() == 1                                   # handed on as crowd
  train = next(source.train_batches())
  assert train['box_valid'].sum() == got['box_valid'].sum() - 1       # crowd boxes are not trained on


def test_more_than_twenty_problems_end_with_a_count(tmp_path):
  root = small_coco(tmp_path, lambda d: [a.update(category_id=99) for a in d['annotations']])
  with pytest.raises(UserError) as error:
    build_detection_source(coco_config(root), 2, 2, 0)
  lines = str(error.value).splitlines()
  assert len(lines) == 22 and lines[-1].strip().startswith('... and ') and lines[-1].endswith(' more')


def test_bad_image_folders(tmp_path):
  for split in ('train', 'test'):
    for name in ('cat', 'dog'):
      os.makedirs(tmp_path / split / name)
      Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / split / name / 'a.png')
  os.makedirs(tmp_path / 'train' / 'empty')
  os.makedirs(tmp_path / 'test' / 'bird')
  Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / 'test' / 'bird' / 'b.png')
  (tmp_path / 'train' / 'dog' / 'broken.jpg').write_bytes(b'\xff\xd8 not really')
  with pytest.raises(UserError) as error:
    build_source(folder_config(tmp_path), 2, 2, 0)
  text = str(error.value)
  assert f'{tmp_path / "train" / "empty"}: empty folder' in text
  assert f'{tmp_path / "test" / "bird"}: class folder not among the training classes' in text
  assert f'{tmp_path / "train" / "dog" / "broken.jpg"}: cannot be read as an image' in text
  source = build_source(folder_config(tmp_path, skip_bad=True), 2, 2, 0)
  assert source.class_names == ('cat', 'dog', 'empty') and source.num_train_examples == 2


@pytest.mark.parametrize('config, message', [
    (lambda r: folder_config(r, train_dir=str(r / 'nowhere')), 'is not a folder'),
    (lambda r: folder_config(r, image_size=0), 'dataset.image_size is not set'),
    (lambda r: coco_config(r, train_annotations=str(r / 'none.json')), 'does not exist'),
    (lambda r: voc_config(r, train_list='trainval+extra'), 'has no ImageSets/Main/extra.txt'),
    (lambda r: coco_config(r, check_images='all'), "unknown dataset.check_images 'all'"),
])
def test_bad_paths_and_keys_are_one_line(tmp_path, config, message):
  (tmp_path / 'ImageSets' / 'Main').mkdir(parents=True)
  (tmp_path / 'ImageSets' / 'Main' / 'trainval.txt').write_text('')
  (tmp_path / 'test.json').write_text('{"images": [], "annotations": [], "categories": []}')
  (tmp_path / 'train').mkdir()
  build = build_source if config(tmp_path).name == 'image_folder' else build_detection_source
  with pytest.raises(UserError, match=message):
    build(config(tmp_path), 2, 2, 0)


def test_invalid_json_is_one_line(tmp_path):
  (tmp_path / 'train.json').write_text('{"images": [')
  with pytest.raises(UserError, match='is not valid JSON'):
    build_detection_source(coco_config(tmp_path), 2, 2, 0)


def test_voc_names_found_in_the_xml(tmp_path):
  write_layout('voc_folder', str(tmp_path), 4, 2)
  labels = [scene_batch(split, 0, n, 1)['labels'][scene_batch(split, 0, n, 1)['box_valid']] for split, n in
            (('train', 4), ('test', 2))]
  found = tuple(str(d) for d in sorted(set(np.concatenate(labels).tolist())))
  assert build_detection_source(voc_config(tmp_path), 2, 2, 0).class_names == found
  named = build_detection_source(voc_config(tmp_path, class_names=tuple('0123456789x')), 2, 2, 0)
  assert named.num_classes == 11
  with pytest.raises(UserError, match="unknown class '"):
    build_detection_source(voc_config(tmp_path, class_names=('0', '1')), 2, 2, 0)


def test_image_pairs_give_the_digit_domains(tmp_path):
  from vision_jax.data.digit_domains import load_digit_domains
  write_layout('image_pairs', str(tmp_path), 0, 0)
  config = ml_collections.ConfigDict({'name': 'image_pairs', 'train_dir': str(tmp_path / 'train'),
                                      'eval_dir': str(tmp_path / 'test'), 'image_size': 32, 'channels': 3,
                                      'mean': 0.0, 'std': 1.0, 'augment': 'jitter', 'load_size': 36})
  source = build_source(config, 8, 40, 0)
  a, b, _ = load_digit_domains('test')
  got = collected(source.eval_batches(), ('image', 'target'))
  np.testing.assert_array_equal(got['image'], quantised(a.repeat(3, -1)))
  np.testing.assert_array_equal(got['target'], quantised(b))
  flipped = build_source(ml_collections.ConfigDict({**config.to_dict(), 'direction': 'BtoA'}), 8, 40, 0)
  np.testing.assert_array_equal(next(flipped.eval_batches())['image'], got['target'][:40])
  batch = next(source.train_batches())   # jittered: the same crop and flip of both halves
  assert batch['image'].shape == batch['target'].shape == (8, 32, 32, 3)
  grey_input = batch['image'].std(-1).max()
  assert grey_input < 1e-6 and batch['target'].std(-1).mean() > 0.01


def test_an_image_the_header_check_passed_but_that_fails_to_decode_is_named_in_one_line(tmp_path):
  """Issue #28: after check_images='header', damaged pixel data stopped training with a TensorFlow
  InvalidArgumentError traceback that did not name the file."""
  root = small_coco(tmp_path)
  corrupt(root / 'images' / 'test_000001.png')
  source = build_detection_source(coco_config(root, check_images='header'), 2, 2, 0)
  message = (r"coco_json: 1 image\(s\) failed to decode while training \(.*test_000001.png: cannot be read as an "
             r"image .*\); dataset.check_images='header' reads headers only")
  with pytest.raises(UserError, match=message):
    for _, _ in zip(range(20), source.train_batches(0)):
      pass
  with pytest.raises(UserError, match=message):
    list(source.eval_batches())
