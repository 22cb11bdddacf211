"""The paper's optimiser (Section 5) from optax blocks, and the learning-rate schedules.

Section 5's update rule:  v <- 0.9 v - 0.0005 * lr * w - lr * grad;   w <- w + v.
The learning rate multiplies the gradient *before* the momentum trace, so when the rate drops, the velocity built up at
the old rate is kept and decays at 0.9 per step, as in the paper (optax.sgd puts the rate after the trace, which would
rescale the whole velocity at once). The rate lives in the optimiser state (optax.inject_hyperparams) so that the
plateau rule can set it between steps without recompiling.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

SCHEDULES = ('plateau', 'step', 'cosine', 'constant')


def weight_decay_mask(decay_biases: bool) -> Callable[[Any], Any]:
  """All parameters (the paper) or only kernels (Caffe's reference model)."""
  def mask(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: decay_biases or getattr(path[-1], 'key', None) == 'kernel', params)
  return mask


def paper_sgd(learning_rate, momentum: float, weight_decay: float,
              decay_mask: Callable[[Any], Any] | None = None) -> optax.GradientTransformation:
  """Section 5: v <- momentum * v - lr * (weight_decay * w + grad); the update is v."""
  return optax.chain(
      optax.add_decayed_weights(weight_decay, mask=decay_mask),
      optax.scale_by_learning_rate(learning_rate),
      optax.trace(decay=momentum),
  )


def learning_rate_schedule(config: ml_collections.ConfigDict, steps_per_epoch: int) -> float | optax.Schedule:
  """A constant for 'plateau' (the plateau rule sets the rate between steps) and 'constant'; a schedule otherwise."""
  lr = config.learning_rate
  if config.schedule in ('plateau', 'constant'):
    return lr
  if config.schedule == 'step':  # Caffe's reference: x0.1 every step_epochs epochs.
    return optax.exponential_decay(lr, transition_steps=int(config.step_epochs * steps_per_epoch), decay_rate=0.1,
                                   staircase=True)
  if config.schedule == 'cosine':
    total = total_train_steps(config, steps_per_epoch)
    warmup = int(config.warmup_epochs * steps_per_epoch)
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps=max(warmup, 1), decay_steps=max(total, warmup + 1))
  raise ValueError(f'schedule must be one of {SCHEDULES}, got {config.schedule!r}')


def total_train_steps(config: ml_collections.ConfigDict, steps_per_epoch: int) -> int:
  if config.num_train_steps > 0:
    return config.num_train_steps
  return int(config.num_epochs * steps_per_epoch)


def make_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.GradientTransformation:
  return optax.inject_hyperparams(paper_sgd, static_args=('decay_mask',))(
      learning_rate=learning_rate_schedule(config, steps_per_epoch), momentum=config.momentum,
      weight_decay=config.weight_decay, decay_mask=weight_decay_mask(config.decay_biases))


def current_learning_rate(opt_state) -> jax.Array:
  return opt_state.hyperparams['learning_rate']


# --- The plateau rule: "divide the learning rate by 10 when the validation error rate stopped improving" (Section 5).

def plateau_rule(config: ml_collections.ConfigDict) -> optax.GradientTransformationExtraArgs:
  """optax.contrib.reduce_on_plateau, driven once per evaluation with the validation top-1 error.

  An evaluation improves when the error is below the best so far by more than `plateau_threshold`; after
  `plateau_patience` evaluations without one the scale is divided by 10, at most `plateau_max_drops` times (its
  min_scale is the scale after that many drops, computed with the same float32 products, so no further drop occurs).
  """
  if config.plateau_threshold <= 0:
    raise ValueError(f'plateau_threshold must be > 0, got {config.plateau_threshold}')
  min_scale = np.float32(1.0)
  for _ in range(config.plateau_max_drops):
    min_scale = np.float32(min_scale * np.float32(0.1))
  return optax.contrib.reduce_on_plateau(factor=0.1, patience=config.plateau_patience, rtol=0.0,
                                         atol=config.plateau_threshold, accumulation_size=1, min_scale=min_scale)


def init_plateau(rule: optax.GradientTransformationExtraArgs):
  return rule.init(jnp.zeros((), jnp.float32))


def step_plateau(rule: optax.GradientTransformationExtraArgs, plateau_state, validation_error: float):
  """Feeds one validation error to the rule; returns its new state (its `scale` multiplies the base rate)."""
  _, new_state = rule.update(jnp.zeros((), jnp.float32), plateau_state, value=jnp.float32(validation_error))
  return new_state


def set_learning_rate(opt_state, learning_rate) -> Any:
  hyperparams = dict(opt_state.hyperparams, learning_rate=jnp.asarray(learning_rate, jnp.float32))
  return opt_state._replace(hyperparams=hyperparams)
