"""Optimizers and learning-rate schedules built from `config.optimizer` and `config.schedule`."""

import functools

import jax
import optax

from vision_jax.errors import UserError
from vision_jax.train.freezing import partitioned_optimizer, validate_regexes

SCHEDULES = ('constant', 'piecewise', 'cosine', 'linear')
OPTIMIZERS = ('sgd', 'adam', 'adamw')
# The keys each schedule and optimizer reads besides `name` (tests/train/test_optimizers.py records
# them): an override of another key of the block has no effect, and the launch refuses it.
_WARMUP = ('base_lr', 'warmup_steps')
SCHEDULE_KEYS = {'constant': _WARMUP, 'piecewise': _WARMUP + ('boundaries', 'decay_factor'),
                 'cosine': _WARMUP + ('final_lr_fraction',), 'linear': _WARMUP + ('decay_start', 'final_lr_fraction')}
_ADAM = ('b1', 'b2', 'eps', 'weight_decay', 'grad_clip_norm')
OPTIMIZER_KEYS = {'sgd': ('momentum', 'nesterov', 'weight_decay', 'grad_clip_norm'), 'adam': _ADAM, 'adamw': _ADAM}


def create_learning_rate_fn(schedule, num_train_steps: int) -> optax.Schedule:
  """Linear warmup from 0 over `warmup_steps`, then constant, piecewise, cosine or linear decay
  (cosine and linear end at base_lr * final_lr_fraction; Ultralytics' lrf is linear's).

  piecewise: lr = base_lr * prod(decay_factor for each boundary passed); boundaries are
  fractions of num_train_steps (< 1) or absolute steps. linear holds base_lr until `decay_start`
  (a fraction or a step; CycleGAN's constant-then-linear-to-0 is decay_start 0.5).
  """
  base, warmup = schedule.base_lr, schedule.get('warmup_steps', 0)
  if schedule.name not in SCHEDULES:
    raise UserError(f'unknown schedule.name {schedule.name!r}; choose one of: {", ".join(SCHEDULES)}')
  if schedule.name == 'constant':
    main = optax.constant_schedule(base)
  elif schedule.name == 'piecewise':
    steps = [int(b * num_train_steps) if b < 1 else int(b) for b in schedule.boundaries]
    main = optax.piecewise_constant_schedule(
        base, {s - warmup: schedule.get('decay_factor', 0.1) for s in steps})
  elif schedule.name == 'linear':
    start = schedule.get('decay_start', 0)
    hold = (int(start * num_train_steps) if start < 1 else int(start)) - warmup if start else 0
    main = optax.linear_schedule(base, base * schedule.get('final_lr_fraction', 0.0),
                                 max(1, num_train_steps - warmup - max(hold, 0)), transition_begin=max(hold, 0))
  else:
    main = optax.cosine_decay_schedule(base, max(1, num_train_steps - warmup),
                                       alpha=schedule.get('final_lr_fraction', 0.0))
  if not warmup:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, base, warmup), main], [warmup])


def _decay_mask(params):
  """Weight decay applies to kernels only, not to biases or normalisation scales/offsets."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def create_optimizer(optimizer, learning_rate_fn: optax.Schedule) -> optax.GradientTransformation:
  """sgd (momentum/nesterov) and adam use L2 weight decay added to the gradient, as in the
  papers they come from; adamw uses decoupled decay. Optional clipping by global norm."""
  if optimizer.name not in OPTIMIZERS:
    raise UserError(f'unknown optimizer.name {optimizer.name!r}; choose one of: {", ".join(OPTIMIZERS)}')
  wd = optimizer.get('weight_decay', 0.0)
  parts = []
  if optimizer.get('grad_clip_norm', 0.0):
    parts.append(optax.clip_by_global_norm(optimizer.grad_clip_norm))
  if optimizer.name == 'adamw':
    parts.append(optax.adamw(learning_rate_fn, b1=optimizer.get('b1', 0.9), b2=optimizer.get('b2', 0.999),
                             eps=optimizer.get('eps', 1e-8), weight_decay=wd, mask=_decay_mask))
    return optax.chain(*parts)
  if wd:
    parts.append(optax.add_decayed_weights(wd, mask=_decay_mask))
  if optimizer.name == 'sgd':
    parts.append(optax.sgd(learning_rate_fn, momentum=optimizer.get('momentum', 0.0) or None,
                           nesterov=optimizer.get('nesterov', False)))
  else:
    parts.append(optax.adam(learning_rate_fn, b1=optimizer.get('b1', 0.9), b2=optimizer.get('b2', 0.999),
                            eps=optimizer.get('eps', 1e-8)))
  return optax.chain(*parts)


def optimizer_from_config(config) -> tuple[optax.Schedule, optax.GradientTransformation]:
  """(learning-rate schedule, optimizer) of config.schedule/optimizer, with the config.freeze and
  config.lr_multipliers parameter groups; their regexes are checked first."""
  lr_fn = create_learning_rate_fn(config.schedule, config.num_train_steps)
  freeze, lr_multipliers = config.get('freeze', ''), tuple(config.get('lr_multipliers', ()))
  validate_regexes(freeze, lr_multipliers, config.get('freeze_batch_stats', ''))
  tx = partitioned_optimizer(functools.partial(create_optimizer, config.optimizer), lr_fn, freeze, lr_multipliers)
  return lr_fn, tx
