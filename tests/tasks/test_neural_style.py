"""Neural style: the smoke run lowers the style loss from where it starts, writes the picture, the
grid and the classifier's top 5; bad image names are one clear line."""

import json

import matplotlib.image
import numpy as np
import pytest

from tests.helpers import load_config, metrics
from vision_jax.errors import UserError
from vision_jax.tasks import run


def test_smoke_lowers_the_style_loss_and_writes_the_stylised_photo(tmp_path):
  final = run(load_config('neural_style'), str(tmp_path))
  assert final['step'] == 4
  for key in ('content_loss', 'style_loss', 'tv_loss', 'content_loss_start', 'style_loss_start', 'tv_loss_start'):
    assert np.isfinite(final[key]), key
  assert final['content_loss_start'] < 1e-6  # the optimisation starts from the content photo
  assert final['style_loss'] < final['style_loss_start'] and final['content_loss'] > 0
  assert final['content_class_kept'] in (0.0, 1.0)
  assert matplotlib.image.imread(tmp_path / 'stylised.png').shape[:2] == (64, 64)
  assert matplotlib.image.imread(tmp_path / 'samples' / 'step_0000004.png').shape[:2] == (64, 3 * 64)
  top5 = json.loads((tmp_path / 'stylised_top5.json').read_text())
  assert len(top5['top5']) == 5 and top5['content_top1']
  train = metrics(str(tmp_path), 'train')
  assert [r['step'] for r in train] == [2, 4] and {'style_loss', 'content_loss', 'tv_loss'} <= set(train[-1])
  from vision_jax import inference
  with pytest.raises(UserError, match='trains no network to predict with'):
    inference.load(str(tmp_path))


@pytest.mark.parametrize('key, value, message', [
    ('style', '/no/such/style.jpg', 'image /no/such/style.jpg does not exist'),
    ('content', 'skimage:horse', "unknown bundled photo 'horse'; choose one of: astronaut"),
    ('style', 'sklearn:monet', "unknown scikit-learn sample image 'monet'; choose one of: china, flower"),
])
def test_bad_image_names_are_one_clear_error(tmp_path, key, value, message):
  config = load_config('neural_style')
  config[key] = value
  with pytest.raises(UserError, match=message):
    run(config, str(tmp_path))


def test_the_vgg19_option_asks_for_its_weights_file(tmp_path):
  config = load_config('neural_style', 'vgg19,smoke')
  assert config.neural_style.content_layer == 'conv4_2' and config.neural_style.style_layers[-1] == 'conv5_1'
  with pytest.raises(UserError, match=r"neural style needs the pretrained vgg19: set --config.init_from=FILE"):
    run(config, str(tmp_path))


def test_feed_forward_smoke_trains_the_transform_network_and_styles_the_held_out_photo(tmp_path):
  final = run(load_config('fast_style', 'photos,smoke'), str(tmp_path))
  assert final['step'] == 4
  for key in ('content_loss', 'style_loss', 'content_loss_start', 'style_loss_start', 'content_class_kept'):
    assert np.isfinite(final[key]), key
  assert final['content_loss'] > 0 and final['content_loss_start'] < 1e-6
  top5 = json.loads((tmp_path / 'stylised_top5.json').read_text())
  assert top5['content_top1'] and len(top5['top5']) == 5
  assert matplotlib.image.imread(tmp_path / 'samples' / 'step_0000004.png').shape[:2] == (2 * 64, 64)
  train = metrics(str(tmp_path), 'train')
  assert train[-1]['loss'] < train[0]['loss']
  from vision_jax import inference
  styled = inference.load(str(tmp_path)).predict(['skimage:coffee', np.zeros((50, 70, 3), np.uint8)])
  assert [s.shape for s in styled] == [(64, 64, 3)] * 2 and styled[0].dtype == np.uint8 and styled[0].std() > 0


def test_photos_source_holds_out_the_eval_photos():
  from vision_jax.data.images import bundled_photo_names, photos_source
  config = load_config('fast_style', 'photos,smoke').dataset
  source = photos_source(config, 2, 1, 0)
  assert len(source.train_labels) == len(bundled_photo_names()) - 1 and source.num_eval_examples == 1
  assert source.image_shape == (64, 64, 3)
  config.eval_photos = ('skimage:horse',)
  with pytest.raises(UserError, match='dataset.eval_photos must name some, not all, of: skimage:astronaut'):
    photos_source(config, 2, 1, 0)
