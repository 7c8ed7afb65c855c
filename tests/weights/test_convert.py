"""Weight conversion: layout changes, and every mismatch named."""

import jax.numpy as jnp
import numpy as np
import pytest

from vision_jax.errors import UserError
from vision_jax.weights.convert import convert_state, load_torch_state_dict, torch_layout


def test_torch_layouts():
  conv = np.arange(2 * 3 * 5 * 7).reshape(2, 3, 5, 7)  # OIHW
  assert torch_layout('kernel', conv).shape == (5, 7, 3, 2)
  assert torch_layout('kernel', conv)[1, 2, 0, 1] == conv[1, 0, 1, 2]
  dense = np.arange(6).reshape(2, 3)  # (out, in)
  np.testing.assert_array_equal(torch_layout('kernel', dense), dense.T)
  np.testing.assert_array_equal(torch_layout('scale', np.ones(3)), np.ones(3))


TEMPLATE = {'params': {'conv': {'kernel': jnp.zeros((3, 3, 2, 4))}, 'bn': {'scale': jnp.zeros(4), 'bias': jnp.zeros(4)}},
            'batch_stats': {'bn': {'mean': jnp.zeros(4), 'var': jnp.zeros(4)}}}
STATE = {'c.weight': np.ones((4, 2, 3, 3)), 'b.weight': np.ones(4), 'b.bias': np.zeros(4),
         'b.running_mean': np.zeros(4), 'b.running_var': np.ones(4), 'b.num_batches_tracked': np.array(3)}


def key_of(path):
  return {'conv': 'c', 'bn': 'b'}[path[0]]


def test_convert_fills_params_and_batch_stats():
  variables = convert_state(STATE, TEMPLATE, key_of, 'x.pth')
  assert variables['params']['conv']['kernel'].shape == (3, 3, 2, 4)
  np.testing.assert_array_equal(variables['batch_stats']['bn']['var'], np.ones(4))


@pytest.mark.parametrize('change, message', [
    (lambda s: s.pop('b.running_var'), 'missing b.running_var (for batch_stats/bn/var)'),
    (lambda s: s.update({'b.extra': np.ones(1)}), 'unexpected b.extra'),
    (lambda s: s.update({'c.weight': np.ones((4, 2, 5, 5))}), 'c.weight has shape (4, 2, 5, 5), the model needs (4, 2, 3, 3)'),
])
def test_each_mismatch_is_named(change, message):
  state = dict(STATE)
  change(state)
  with pytest.raises(UserError, match=r'x\.pth does not match the model: .*' + message.replace('(', r'\(').replace(')', r'\)')):
    convert_state(state, TEMPLATE, key_of, 'x.pth')


def test_torch_files_load_weights_only(tmp_path):
  import torch

  class Evil:
    def __reduce__(self):
      return (print, ('code ran',))

  path = tmp_path / 'evil.pth'
  torch.save({'w': torch.ones(2), 'evil': Evil()}, path)
  with pytest.raises(UserError, match='holds pickled Python objects .* which we do not unpickle'):
    load_torch_state_dict(str(path))
  good = tmp_path / 'good.pth'
  torch.save({'state_dict': {'w': torch.ones(2)}}, good)
  np.testing.assert_array_equal(load_torch_state_dict(str(good))['w'], np.ones(2))
  with pytest.raises(UserError, match='does not exist'):
    load_torch_state_dict(str(tmp_path / 'missing.pth'))


def test_a_mis_shaped_tensor_is_named_once_in_the_files_layout():
  # issue #15 item 8: it was reported as mis-shaped (file layout vs model layout) and again as unexpected.
  state = dict(STATE, **{'c.weight': np.ones((4, 2, 5, 5))})
  with pytest.raises(UserError) as error:
    convert_state(state, TEMPLATE, key_of, 'x.pth')
  assert str(error.value) == 'x.pth does not match the model: c.weight has shape (4, 2, 5, 5), the model needs (4, 2, 3, 3)'


@pytest.mark.parametrize('content, message', [
    (b'\x00garbage that is no zip and no pickle' * 20, r'bad\.pth is not a readable PyTorch state_dict \('),
    ('list', r'bad\.pth holds a list, not a PyTorch state_dict'),
    ('checkpoint', r'bad\.pth is not a PyTorch state_dict: epoch are not tensors'),
])
def test_files_that_are_no_state_dict_say_so_in_one_line(tmp_path, content, message):
  # issue #15 item 8: a garbage .pth surfaced PyTorch's "Weights only load failed... In PyTorch 2.6" page.
  import torch
  path = tmp_path / 'bad.pth'
  if content == 'list':
    torch.save([torch.ones(2)], path)
  elif content == 'checkpoint':
    torch.save({'w': torch.ones(2), 'epoch': 3}, path)
  else:
    path.write_bytes(content)
  with pytest.raises(UserError, match=message) as error:
    load_torch_state_dict(str(path))
  assert '\n' not in str(error.value) and 'PyTorch 2.6' not in str(error.value)
