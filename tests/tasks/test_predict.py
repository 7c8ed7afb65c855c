"""ImageNet prediction with the real pretrained EfficientNet-Lite0 weights, through launch.py's path
after its flag parser (in this process: a subprocess would add its imports to every case)."""

import json

import pytest

from tests.helpers import start_in_process

CATS = range(281, 286)


@pytest.mark.parametrize('photo, accept, config, args', [
    ('chelsea', CATS, 'imagenet_predict.py:smoke', []),  # the smoke variant is chelsea
    ('coffee', [967], 'imagenet_predict.py', ['--config.image=skimage:coffee'])])
def test_bundled_photos_get_their_classes(tmp_path, capfd, photo, accept, config, args):
  result = start_in_process(capfd, tmp_path, *args, config=config)
  assert result.returncode == 0, result.stderr[-3000:]
  predictions = json.load(open(tmp_path / 'predictions.json'))
  top = predictions['top5']
  assert predictions['image'] == f'skimage:{photo}' and len(top) == 5
  assert top[0]['index'] in accept, top
  assert set(top[0]) == {'index', 'name', 'prob'} and abs(sum(p['prob'] for p in top)) <= 1.0
  assert result.stdout.splitlines()[0].startswith(f'1. {top[0]["name"]} (class {top[0]["index"]})')


def test_image_file_path_and_bad_path(tmp_path, capfd):
  from PIL import Image
  from skimage import data
  path = tmp_path / 'coffee.jpg'
  Image.fromarray(data.coffee()).save(path, quality=95)
  result = start_in_process(capfd, tmp_path / 'run', f'--config.image={path}', config='imagenet_predict.py')
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.load(open(tmp_path / 'run' / 'predictions.json'))['top5'][0]['name'] == 'espresso'
  missing = start_in_process(capfd, tmp_path / 'run2', f'--config.image={tmp_path}/nope.jpg', config='imagenet_predict.py')
  assert missing.returncode == 1 and missing.stderr.strip().splitlines()[-1] == f'error: image {tmp_path}/nope.jpg does not exist'
