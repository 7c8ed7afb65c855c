"""SSD MultiBox loss: smooth-L1 on positive boxes plus softmax cross-entropy on positives and the
hardest negatives (3 per positive), both normalised by the batch's number of positives (at least 1)."""

import jax
import jax.numpy as jnp
import optax


def smooth_l1(x: jnp.ndarray, beta: float = 1.0) -> jnp.ndarray:
  """Huber-like: 0.5 x^2 / beta below beta, |x| - 0.5 beta above (PyTorch's smooth_l1_loss)."""
  absolute = jnp.abs(x)
  return jnp.where(absolute < beta, 0.5 * x * x / beta, absolute - 0.5 * beta)


def hard_negatives(background_loss: jnp.ndarray, positive: jnp.ndarray, ratio: float) -> jnp.ndarray:
  """(B, P) bool: per image, the ratio * num_positive negatives with the highest background loss."""
  loss = jnp.where(positive, -jnp.inf, background_loss)
  rank = jnp.argsort(jnp.argsort(-loss, axis=1), axis=1)  # 0 = hardest
  num_neg = jnp.minimum(ratio * positive.sum(axis=1, keepdims=True), positive.shape[1] - positive.sum(
      axis=1, keepdims=True))
  return (rank < num_neg) & ~positive


def multibox_loss(loc_pred: jnp.ndarray, cls_logits: jnp.ndarray, loc_targets: jnp.ndarray,
                  cls_targets: jnp.ndarray, neg_pos_ratio: float = 3.0) -> dict[str, jnp.ndarray]:
  """loc_pred/loc_targets (B, P, 4), cls_logits (B, P, C+1), cls_targets (B, P) with 0 = background.

  Returns {'loss', 'loc_loss', 'cls_loss', 'num_positive'} (losses already normalised).
  """
  cls_logits = cls_logits.astype(jnp.float32)
  positive = cls_targets > 0
  num_pos = jnp.maximum(positive.sum(), 1).astype(jnp.float32)
  loc = jnp.sum(smooth_l1(loc_pred.astype(jnp.float32) - loc_targets) * positive[..., None])
  ce = optax.softmax_cross_entropy_with_integer_labels(cls_logits, cls_targets)
  background_loss = jax.lax.stop_gradient(-jax.nn.log_softmax(cls_logits)[..., 0])
  selected = positive | hard_negatives(background_loss, positive, neg_pos_ratio)
  cls = jnp.sum(ce * selected)
  return {'loss': (loc + cls) / num_pos, 'loc_loss': loc / num_pos, 'cls_loss': cls / num_pos,
          'num_positive': positive.sum()}
