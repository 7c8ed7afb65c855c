"""The benchmark command runs end to end, and both of its sides compute the same function: the same
losses from the same weights and batch, over two SGD-momentum steps."""

import json
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
  done = subprocess.run([sys.executable, 'benchmarks/run.py', '--models=lenet', '--frameworks=jax,torch',
                         '--batch=8', '--warmup=1', '--steps=2', '--eval_steps=1', '--pipelines=classification',
                         '--pipeline_batches=1', '--pipeline_batch=4', f'--out={out}', f'--results_md={md}',
                         '--label=test'], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  rows = {(r['model'], r['framework']): r for r in results['results']}
  assert set(rows) == {('lenet', 'jax'), ('lenet', 'torch')}
  for row in rows.values():
    assert 'error' not in row, row
    assert row['images_per_sec'] > 0 and row['eval_images_per_sec'] > 0 and row['compile_s'] > 0
    assert row['timed_steps'] == 2 and row['peak_rss_mb'] > 0 and np.isfinite(row['final_loss'])
  assert rows[('lenet', 'jax')]['xla_temp_mb'] >= 0
  assert set(results['ratios']) == {'lenet'}
  assert results['pipelines']['classification']['images_per_sec_per_core'] > 0
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
