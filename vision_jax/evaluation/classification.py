"""The 'accuracy' evaluator: loss, top-1 and top-5 accuracy of a classifier over the eval split."""

import jax.numpy as jnp

from vision_jax.evaluation.evaluators import EVALUATORS, StepEvaluator, needs
from vision_jax.train.losses import correct_top_k, cross_entropy_loss


def make_eval_step(model):
  """eval_step(state, batch) -> masked sums of loss, top-1 and top-5 hits, and the example count."""

  def eval_step(state, batch):
    logits, _ = model.apply(state.variables(), batch['image'], train=False)
    mask = batch['mask']
    return {'loss': jnp.sum(cross_entropy_loss(logits, batch['label']) * mask),
            'correct': jnp.sum(correct_top_k(logits, batch['label'], 1) * mask),
            'correct5': jnp.sum(correct_top_k(logits, batch['label'], 5) * mask),
            'count': jnp.sum(mask)}
  return eval_step


def summarise(sums: dict) -> dict:
  count = max(float(sums['count']), 1.0)
  return {'loss': float(sums['loss']) / count, 'accuracy': float(sums['correct']) / count,
          'top5_accuracy': float(sums['correct5']) / count, 'num_examples': float(sums['count'])}


@EVALUATORS.register('accuracy')
def accuracy_evaluator(name: str, spec, context: dict, every_steps: int) -> StepEvaluator:
  """Needs context['model'] (a classifier returning (logits, features)) and context['source']."""
  model, source = needs(context, 'model', name), needs(context, 'source', name)
  return StepEvaluator(name, every_steps, make_eval_step(model), source.eval_batches, summarise,
                       plot_keys=tuple(spec.get('plot_keys', ('accuracy',))))

