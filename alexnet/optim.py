"""The paper's optimiser (Section 5) from optax blocks, and the learning-rate schedules.

Section 5's update rule:  v <- 0.9 v - 0.0005 * lr * w - lr * grad;   w <- w + v.
The learning rate multiplies the gradient *before* the momentum trace, so when the rate drops, the velocity built up at
the old rate is kept and decays at 0.9 per step, as in the paper (optax.sgd puts the rate after the trace, which would
rescale the whole velocity at once). The rate and the plateau rule's scale live in the optimiser state
(optax.inject_hyperparams), so that the rule can set the scale between steps without recompiling.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

SCHEDULES = ('plateau', 'drops', 'step', 'cosine', 'constant')


def weight_decay_mask(decay_biases: bool) -> Callable[[Any], Any]:
  """All parameters (the paper) or only kernels (Caffe's reference model)."""
  def mask(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: decay_biases or getattr(path[-1], 'key', None) == 'kernel', params)
  return mask


def paper_sgd(learning_rate, momentum: float, weight_decay: float, decay_mask: Callable[[Any], Any] | None = None,
              plateau_scale=1.0) -> optax.GradientTransformation:
  """Section 5: v <- momentum * v - lr * (weight_decay * w + grad); the update is v. The rate is the schedule's
  `learning_rate` times the plateau rule's `plateau_scale` (1 for other schedules), applied before the trace, so a
  drop keeps the velocity."""
  return optax.chain(
      optax.add_decayed_weights(weight_decay, mask=decay_mask),
      optax.scale_by_learning_rate(learning_rate),
      optax.scale(plateau_scale),
      optax.trace(decay=momentum),
  )


def learning_rate_schedule(config: ml_collections.ConfigDict, steps_per_epoch: int) -> float | optax.Schedule:
  """The rate before the plateau rule's scale: for 'plateau' and 'constant', the base rate after a linear warm-up of
  `warmup_epochs` (none at 0); for 'drops', the same divided by 10 at each of `drop_epochs` (the plateau rule's drops
  fixed in advance: from the step int(epoch * steps_per_epoch) on); for 'step' and 'cosine', their schedules."""
  lr = config.learning_rate
  warmup = int(config.warmup_epochs * steps_per_epoch)
  if config.schedule in ('plateau', 'constant', 'drops'):
    after = optax.constant_schedule(lr)
    if config.schedule == 'drops':
      after = drop_schedule(lr, config.drop_epochs, steps_per_epoch)
    if warmup == 0:
      return lr if config.schedule != 'drops' else after
    return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), lambda step: after(step + warmup)], [warmup])
  if config.schedule == 'step':  # Caffe's reference: x0.1 every step_epochs epochs.
    return optax.exponential_decay(lr, transition_steps=int(config.step_epochs * steps_per_epoch), decay_rate=0.1,
                                   staircase=True)
  if config.schedule == 'cosine':
    total = total_train_steps(config, steps_per_epoch)
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps=max(warmup, 1), decay_steps=max(total, warmup + 1))
  raise ValueError(f'schedule must be one of {SCHEDULES}, got {config.schedule!r}')


def drop_schedule(lr: float, drop_epochs, steps_per_epoch: int) -> optax.Schedule:
  """lr, divided by 10 from each step int(epoch * steps_per_epoch) of `drop_epochs` on."""
  return optax.piecewise_constant_schedule(lr, {int(e * steps_per_epoch): 0.1 for e in drop_epochs})


def total_train_steps(config: ml_collections.ConfigDict, steps_per_epoch: int) -> int:
  if config.num_train_steps > 0:
    return config.num_train_steps
  return int(config.num_epochs * steps_per_epoch)


def make_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.GradientTransformation:
  return optax.inject_hyperparams(paper_sgd, static_args=('decay_mask',))(
      learning_rate=learning_rate_schedule(config, steps_per_epoch), momentum=config.momentum,
      weight_decay=config.weight_decay, decay_mask=weight_decay_mask(config.decay_biases), plateau_scale=1.0)


def current_learning_rate(opt_state, apart: bool = False) -> jax.Array:
  """The rate in the optimiser state (the schedule's latest value) times the plateau scale. `apart`: inside a step,
  computed behind an optimisation barrier, so that XLA does not share the product with the update's and fuse the two
  differently from one program to another (the summed step would then differ from the plain one in the last bit)."""
  rate, scale = opt_state.hyperparams['learning_rate'], opt_state.hyperparams['plateau_scale']
  if apart:
    rate, scale = jax.lax.optimization_barrier((rate, scale))
  return rate * scale


def set_plateau_scale(opt_state, scale) -> Any:
  hyperparams = dict(opt_state.hyperparams, plateau_scale=jnp.asarray(scale, jnp.float32))
  return opt_state._replace(hyperparams=hyperparams)


# --- The plateau rule: "divide the learning rate by 10 when the validation error rate stopped improving" (Section 5).

@dataclasses.dataclass(frozen=True)
class Plateau:
  """The plateau rule of one run, in evaluations and windows (docs/training.md, The plateau rule).

  The rule judges *windows*: the mean minival top-1 error of the `evals_per_window` evaluations of each
  `plateau_window_epochs`. A window improves when its mean is below the best window mean so far by more than
  `plateau_threshold` (set from the measured evaluation-to-evaluation noise, so that noise alone rarely passes it).
  After `patience` windows without an improvement the rate is divided by 10; the `cooldown` windows after a drop
  count no plateau (their gains still set the best). The rule is *done* at the plateau after its `max_drops`-th drop
  (the paper's stopping point); the scale then stays at the last drop's.

  Built on optax.contrib.reduce_on_plateau (its accumulation_size is the window, its min_scale 0, so the scale
  goes one drop past the last, which marks the rule done)."""
  evals_per_window: int
  patience: int
  cooldown: int
  threshold: float
  max_drops: int

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, steps_per_epoch: int, eval_every: int) -> Plateau:
    """Windows, patience and cooldown are set in epochs; `eval_every` is the run's evaluation period in steps."""
    window_steps = config.plateau_window_epochs * steps_per_epoch
    return cls(evals_per_window=max(1, round(window_steps / eval_every)),
               patience=max(1, round(config.plateau_patience_epochs / config.plateau_window_epochs)),
               cooldown=round(config.plateau_cooldown_epochs / config.plateau_window_epochs),
               threshold=config.plateau_threshold, max_drops=config.plateau_max_drops)

  def transformation(self) -> optax.GradientTransformationExtraArgs:
    return optax.contrib.reduce_on_plateau(factor=0.1, patience=self.patience, rtol=0.0, atol=self.threshold,
                                           cooldown=self.cooldown, accumulation_size=self.evals_per_window,
                                           min_scale=0.0)

  def step(self, plateau_state, validation_error: float):
    """Feeds one validation error to the rule; returns its new state."""
    return _jitted_update(self)(plateau_state, jnp.float32(validation_error))

  def last_scale(self) -> np.float32:
    """The scale after `max_drops` drops, as the rule computes it (the same float32 products)."""
    scale = np.float32(1.0)
    for _ in range(self.max_drops):
      scale = np.float32(scale * np.float32(0.1))
    return scale

  def drops(self, plateau_state) -> int:
    """Drops so far (max_drops + 1 once the rule is done)."""
    scale = float(plateau_state.scale)
    return self.max_drops + 1 if scale <= 0 else min(int(round(-np.log10(scale))), self.max_drops + 1)

  def done(self, plateau_state) -> bool:
    return bool(np.float32(plateau_state.scale) < self.last_scale())

  def scale(self, plateau_state) -> jax.Array:
    """The scale a step uses: the rule's, held at the last drop's once the rule is done."""
    return jnp.maximum(plateau_state.scale, self.last_scale())

  def window_closed(self, plateau_state) -> bool:
    """True right after an evaluation that completed a window (the rule decided on it)."""
    return int(plateau_state.count) == 0


@functools.lru_cache(maxsize=None)
def _jitted_update(rule: Plateau) -> Callable:
  update = rule.transformation().update
  return jax.jit(lambda state, value: update(jnp.zeros((), jnp.float32), state, value=value)[1])


def init_plateau():
  """The rule's initial state (the same whatever its settings)."""
  return optax.contrib.reduce_on_plateau(factor=0.1, atol=1.0).init(jnp.zeros((), jnp.float32))
