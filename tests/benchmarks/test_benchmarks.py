"""The benchmark command runs end to end, and both of its sides compute the same function: the same
losses from the same weights and batch, over two SGD-momentum steps."""

import json
import re
import sys

import jax
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from benchmarks import bench_jax, bench_torch
from benchmarks import torch_models as T
from benchmarks.specs import SPECS
from tests.helpers import ROOT, subprocess_env
from vision_jax.weights.convert import convert_state


def test_one_command_writes_results_ratios_and_the_markdown_table(tmp_path):
  import subprocess
  out, md = tmp_path / 'results.json', tmp_path / 'RESULTS.md'
  md.write_text('# Benchmarks\n\nhand-written notes stay\n')
  done = subprocess.run([sys.executable, 'benchmarks/run.py', '--models=lenet', '--frameworks=jax,jax_onednn,torch',
                         '--batch=8', '--warmup=1', '--steps=2', '--eval_steps=1', '--pipelines=classification,folder',
                         '--pipeline_batches=1', '--pipeline_batch=4', f'--out={out}', f'--results_md={md}',
                         '--label=test'], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  rows = {(r['model'], r['framework']): r for r in results['results']}
  assert set(rows) == {('lenet', 'jax'), ('lenet', 'jax_onednn'), ('lenet', 'torch')}
  for row in rows.values():
    assert 'error' not in row, row
    assert row['images_per_sec'] > 0 and row['eval_images_per_sec'] > 0 and row['compile_s'] > 0
    assert row['timed_steps'] == 2 and row['peak_rss_mb'] > 0 and np.isfinite(row['final_loss'])
  assert rows[('lenet', 'jax')]['xla_temp_mb'] >= 0
  assert set(results['ratios']) == {'lenet'} and results['ratios']['lenet']['train_onednn'] > 0
  assert results['pipelines']['classification']['images_per_sec_per_core'] > 0
  assert results['pipelines']['folder']['images_per_sec_per_core'] > 0   # JPEG files in class folders
  text = md.read_text()
  assert 'hand-written notes stay' in text and '<!-- results:test -->' in text and '| lenet | jax | 8 |' in text


@pytest.mark.parametrize('model, torch_model', [('lenet', lambda: T.LeNet5()), ('resnet20', lambda: T.CifarResNet(20))])
def test_jax_and_pytorch_steps_give_the_same_losses(model, torch_model):
  spec = SPECS[model]
  batch = bench_jax.synthetic_batch(spec, 8, seed=3)
  torch.manual_seed(0)
  reference = torch_model()
  create, train_step, _ = bench_jax.classifier_parts(spec, 'float32')
  state = create(jax.random.PRNGKey(0))
  state_dict = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
  variables = convert_state(state_dict, {'params': state.params, **({'batch_stats': state.batch_stats}
                                                                   if state.batch_stats else {})},
                            T.flax_key, 'torch reference')
  state = state.replace(params=variables['params'], batch_stats=variables.get('batch_stats', state.batch_stats),
                        opt_state=state.tx.init(variables['params']))
  step = jax.jit(train_step)
  jax_losses = []
  for _ in range(2):
    state, metrics = step(state, batch, jax.random.PRNGKey(1))
    jax_losses.append(float(metrics['loss']))

  optimizer = torch.optim.SGD(reference.parameters(), lr=0.01, momentum=0.9)
  images = torch.from_numpy(batch['image'].transpose(0, 3, 1, 2).copy())
  labels = torch.from_numpy(batch['label'].astype(np.int64))
  torch_losses = []
  for _ in range(2):
    optimizer.zero_grad()
    loss = F.cross_entropy(reference.train()(images), labels)
    loss.backward()
    optimizer.step()
    torch_losses.append(loss.item())
  np.testing.assert_allclose(jax_losses, torch_losses, rtol=2e-5)
  assert jax_losses[1] != jax_losses[0]  # the second loss checks the gradients and the update too


def test_pytorch_ssd300_matches_ours_in_parameters_and_multibox_loss():
  """The SSD300 reference has our SSD300's parameter count, and its matching + MultiBox loss gives
  our loss on the same predictions, ground truth and default boxes."""
  import jax.numpy as jnp
  from benchmarks.bench_jax import detector_parts
  from vision_jax.detection.ssd import multibox_loss
  from vision_jax.detection.matching import batch_match
  spec = SPECS['ssd300']
  create, _, _ = detector_parts(spec, 'float32')
  state = jax.eval_shape(create, jax.random.PRNGKey(0))
  ours = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
  assert ours == sum(p.numel() for p in T.SSD300(20).parameters())

  import importlib
  from vision_jax.detection.default_boxes import default_boxes, spec_from_config
  config = importlib.import_module('configs.voc_ssd').get_config('ssd300')
  priors = np.asarray(default_boxes(spec_from_config(config.default_boxes, 300, [38, 19, 10, 5, 3, 1])), np.float32)
  rng = np.random.default_rng(0)
  batch = bench_jax.synthetic_batch(spec, 2, seed=1)
  loc = rng.standard_normal((2, len(priors), 4)).astype(np.float32)
  logits = rng.standard_normal((2, len(priors), 21)).astype(np.float32)
  loc_t, cls_t = batch_match(jnp.asarray(batch['boxes']), jnp.asarray(batch['labels']), jnp.asarray(batch['box_valid']),
                             jnp.asarray(priors), 0.5)
  expected = float(multibox_loss(jnp.asarray(loc), jnp.asarray(logits), loc_t, cls_t)['loss'])
  got = float(bench_torch.multibox_loss(torch.from_numpy(loc), torch.from_numpy(logits), torch.from_numpy(batch['boxes']),
                                        torch.from_numpy(batch['labels'].astype(np.int64)), torch.from_numpy(priors)))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_faster_rcnn_is_torchvisions_architecture_with_its_frozen_layers():
  """The GPU benchmark's two Faster R-CNN R50-FPN: ours has torchvision's parameters (its
  FrozenBatchNorm keeps scale and shift as buffers, ours as frozen parameters), and the recipe's
  frozen layers are the ones torchvision does not train (stem, layer1, every BatchNorm)."""
  from flax import traverse_util
  from torchvision.ops.misc import FrozenBatchNorm2d
  from benchmarks.bench_jax import detector_parts
  spec = SPECS['faster_rcnn']
  config = spec.config()
  create, _, _ = detector_parts(spec, 'float32')
  params = traverse_util.flatten_dict(jax.eval_shape(create, jax.random.PRNGKey(0)).params, sep='/')
  theirs = spec.torchvision_model()
  frozen_bn = sum(m.weight.numel() + m.bias.numel() for m in theirs.modules() if isinstance(m, FrozenBatchNorm2d))
  size = lambda leaves: sum(int(np.prod(x.shape)) for x in leaves)
  assert size(params.values()) == sum(p.numel() for p in theirs.parameters()) + frozen_bn
  trained = [v for k, v in params.items() if not re.match(config.freeze, k)]
  assert size(trained) == sum(p.numel() for p in theirs.parameters() if p.requires_grad)


def test_torchvision_targets_are_pixel_corners_with_labels_from_one():
  boxes = torch.tensor([[[0.1, 0.2, 0.5, 0.6]]])
  [target] = bench_torch.torchvision_targets(boxes, torch.tensor([[0]]), (800, 400))
  np.testing.assert_allclose(target['boxes'].numpy(), [[80.0, 80.0, 240.0, 400.0]])
  assert target['labels'].tolist() == [1]


def test_only_models_with_a_version_for_a_framework_run_in_it():
  assert SPECS['faster_rcnn'].runs('jax') and SPECS['faster_rcnn'].runs('torchvision')
  assert not SPECS['faster_rcnn'].runs('torch') and not SPECS['resnet50'].runs('torchvision')
  assert SPECS['ssd300'].runs('torch') and SPECS['ssd300'].runs('torchvision')
  assert SPECS['retinanet'].runs('jax') and SPECS['retinanet'].runs('torchvision') and not SPECS['retinanet'].runs('torch')
