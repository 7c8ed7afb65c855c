"""Generative training (config.task == 'generative') with any registered method (config.method:
'dcgan' | 'inpaint' | 'pix2pix' | 'cyclegan'; see vision_jax/generative/method.py for the contract). One jitted step
updates the method's networks on the data mesh; config.evals names the evaluators (sample grids,
the pinned classifier's scores, FID/KID, inpainting errors).

With config.scorer (a classification config) a classifier is trained once per workdir, in
WORKDIR/scorer (resumed thereafter), and serves the 'scorer', 'inpainting' and 'translation'
evaluators; config.domain_scorer (CycleGAN: real A vs real B) likewise in WORKDIR/domain_scorer.
"""

import functools
import os

import jax

from vision_jax.config_rules import validate
from vision_jax.data import build_source
from vision_jax.data.source import write_card
from vision_jax.evaluation.evaluators import build_evaluators
from vision_jax.generative import METHODS
from vision_jax.generative.state import create_state
from vision_jax.tasks import classification
from vision_jax.tasks.registry import TASKS
from vision_jax.train.loop import Method, dry_run_report, train_and_evaluate


def train_scorer(scorer_config, workdir: str, name: str = 'scorer'):
  """A pinned classifier (trained once in WORKDIR/<name>, resumed thereafter): returns
  scorer(normalised images) -> (softmax probabilities, penultimate features)."""
  validate(scorer_config)
  outcome, model = classification.train(scorer_config, os.path.join(workdir, name))
  variables = jax.device_get(outcome.state.variables())

  def scorer(images):
    logits, features = model.apply(variables, images, train=False)
    return jax.nn.softmax(logits.astype('float32')), features['pre_logits'].astype('float32')
  return scorer


def build_method(config):
  """The loop's Method, the generative method and the data source (nothing trained or written)."""
  source = build_source(config.dataset, config.batch_size, config.eval_batch_size, config.seed,
                        jax.process_index(), jax.process_count())
  generative = METHODS.get(config.method)(config, source)
  state_fn = functools.partial(create_state, networks=generative.networks, buffers=generative.buffers)
  method = Method(create_state=state_fn, train_step=generative.train_step, train_batches=source.train_batches)
  return method, generative, source


def pinned_scorer(scorer_config, workdir: str, name: str, dry_run: bool):
  """train_scorer's scorer; in a dry run, the scorer config's own dry run and a stand-in."""
  if not dry_run:
    return train_scorer(scorer_config, workdir, name)
  validate(scorer_config)
  dry_run_report(scorer_config, classification.build(scorer_config)[0])
  return _untrained_scorer


def _untrained_scorer(images):
  raise RuntimeError('a dry run trains no scorer')


def build(config, workdir: str, dry_run: bool = False):
  """The Method and its evaluators (training the pinned scorers first, unless `dry_run`)."""
  method, generative, source = build_method(config)
  scorers = {key: pinned_scorer(config[key], workdir, key, dry_run) if config.get(key) else None
             for key in ('scorer', 'domain_scorer')}
  if not dry_run:
    write_card(workdir, source, generative.card)
  context = {'method': generative, 'source': source, 'workdir': workdir, **scorers}
  return method, build_evaluators(config, context)


@TASKS.register('generative')
def run(config, workdir: str, dry_run: bool = False):
  if dry_run:
    return dry_run_report(config, build(config, workdir, dry_run=True)[0])
  return train_and_evaluate(config, workdir, *build(config, workdir)).final
