"""The train state and the pure steps on it: one SGD step (Section 5), the evaluation step (Section 4.1's averaged
views, Section 6's errors), the running metric sums, the plateau rule's update, and the one helper that jits the
steps with their shardings, donation and compiler options."""
from __future__ import annotations

import functools
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from alexnet import augment
from alexnet import model as model_lib
from alexnet import optim
from alexnet import parallel


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  plateau: Any  # optax.contrib.ReduceLROnPlateauState; drives the rate when schedule == 'plateau'.


def build_network(config: ml_collections.ConfigDict, devices=None) -> parallel.Network:
  """The net and where it runs, from the config's model and execution fields (a -1 mesh axis fills from `devices`,
  all of JAX's devices by default, across processes)."""
  tower, head = model_lib.from_config(config)
  if config.parallelism == 'single':
    return parallel.Network(tower, head, config.dropout_rate)
  devices = jax.devices() if devices is None else devices
  data, towers = parallel.resolved_mesh(config, len(devices), jax.process_count())
  return parallel.Network(tower, head, config.dropout_rate, parallel.make_mesh(data, towers, devices))


def compiler_options(config: ml_collections.ConfigDict) -> dict[str, str] | None:
  """XLA options for the jitted steps. On CPU, XLA hands convolutions to YNNPACK by default; cpu_conv_library='xla'
  keeps convolutions with XLA's own emitter and leaves dots to YNNPACK (docs/performance.md has the timings)."""
  if jax.default_backend() != 'cpu' or config.cpu_conv_library == 'ynnpack':
    return None
  return {'xla_cpu_experimental_ynn_fusion_type': 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}


def create_train_state(config, network: parallel.Network, tx: optax.GradientTransformation,
                       image_shape) -> TrainState:
  variables = network.init(jax.random.key(config.seed), image_shape)
  params = variables['params']
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=variables.get('batch_stats'),
                    opt_state=tx.init(params), plateau=optim.init_plateau())


def init_state(config, network: parallel.Network, tx: optax.GradientTransformation, image_shape):
  """(state, its shardings): the state is created where it lives (sharded over the mesh; None on one device)."""
  init = functools.partial(create_train_state, config, network, tx, tuple(image_shape))
  state_sharding = network.shardings(jax.eval_shape(init))
  return jax.jit(init, out_shardings=state_sharding)(), state_sharding


def _variables(params, batch_stats):
  return {'params': params} if batch_stats is None else {'params': params, 'batch_stats': batch_stats}


def topk_errors(logits_or_probs: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-example top-1 and top-5 errors (Section 6) as float32 0/1."""
  top5 = jax.lax.top_k(logits_or_probs, min(5, logits_or_probs.shape[-1]))[1]
  top1_err = (top5[:, 0] != labels).astype(jnp.float32)
  top5_err = 1.0 - jnp.any(top5 == labels[:, None], axis=-1).astype(jnp.float32)
  return top1_err, top5_err


TRAIN_METRICS = ('loss', 'top1_error', 'top5_error', 'grad_norm', 'learning_rate', 'nonfinite')


def train_step(state: TrainState, batch, stats, *, network: parallel.Network, tx: optax.GradientTransformation,
               config: ml_collections.ConfigDict):
  """One SGD step on a global batch; pure: (state, batch) -> (state, metrics)."""
  rng = jax.random.fold_in(jax.random.key(config.seed), state.step)
  aug_rng, dropout_rng = jax.random.split(rng)
  images = augment.augment_train(batch['image'], aug_rng, stats, config)
  labels = batch['label']

  def loss_fn(params):
    logits, new_stats = network.apply(_variables(params, state.batch_stats), images, train=True, rng=dropout_rng)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), (logits, new_stats)

  (loss, (logits, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  grad_norm = optax.tree.norm(grads)
  finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
  top1, top5 = topk_errors(logits, labels)
  metrics = {'loss': loss, 'top1_error': top1.mean(), 'top5_error': top5.mean(), 'grad_norm': grad_norm,
             'learning_rate': optim.current_learning_rate(state.opt_state, apart=True),
             'nonfinite': 1 - finite.astype(jnp.int32)}
  new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                            batch_stats=state.batch_stats if new_stats is None else new_stats, opt_state=opt_state)
  if config.nonfinite == 'skip':  # a non-finite step changes nothing but the step count (the data moves on).
    new_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state,
                             state.replace(step=state.step + 1))
  return new_state, metrics


def view_probabilities(network: parallel.Network, variables, images: jax.Array, stats,
                       config: ml_collections.ConfigDict) -> jax.Array:
  """The class probabilities of each image: the softmax of each of its evaluation views (one centre crop, or the 10
  crops of Section 4.1), averaged over the views. Evaluation and prediction both read it."""
  views = augment.eval_views(images, stats, config)
  n, v = views.shape[:2]
  logits, _ = network.apply(variables, views.reshape(n * v, *views.shape[2:]))
  return jax.nn.softmax(logits).reshape(n, v, -1).mean(axis=1)


def eval_step(state: TrainState, batch, stats, *, network: parallel.Network, config: ml_collections.ConfigDict):
  """Sums of loss and top-1/top-5 errors over the real examples (view_probabilities)."""
  probs = view_probabilities(network, _variables(state.params, state.batch_stats), batch['image'], stats, config)
  labels, mask = batch['label'], batch['mask'].astype(jnp.float32)
  loss = -jnp.log(jnp.take_along_axis(probs, labels[:, None], axis=-1)[:, 0] + 1e-12)
  top1, top5 = topk_errors(probs, labels)
  return {'loss': (loss * mask).sum(), 'top1_error': (top1 * mask).sum(), 'top5_error': (top5 * mask).sum(),
          'count': mask.sum()}


def zero_sums() -> dict[str, jax.Array]:
  """The running sums `summed_train_step` starts a logging window with: a zero per train metric, and
  first_nonfinite (the first step whose loss or gradient norm was not finite; 0: none)."""
  return {k: jnp.zeros((), jnp.int32 if k in ('nonfinite', 'first_nonfinite') else jnp.float32)
          for k in (*TRAIN_METRICS, 'first_nonfinite')}


def summed_train_step(state: TrainState, sums, batch, stats, *, step_fn: Callable = train_step, **kwargs):
  """`step_fn` (`train_step`) that adds its metrics to running sums on the device (fetched at log time, not every
  step): one program per step, so the loop launches and waits for one thing."""
  new_state, metrics = step_fn(state, batch, stats, **kwargs)
  first = jnp.where((sums['first_nonfinite'] == 0) & (metrics['nonfinite'] > 0), new_state.step,
                    sums['first_nonfinite'])
  return new_state, {k: sums[k] + metrics[k] for k in metrics} | {'first_nonfinite': first}


def jit_steps(config: ml_collections.ConfigDict, network: parallel.Network, tx: optax.GradientTransformation,
              state_sharding, step_fn: Callable = train_step) -> tuple[Callable, Callable]:
  """`summed_train_step` (state, sums, batch, stats) -> (state, sums) over `step_fn` (any step with
  `train_step`'s signature) and `eval_step`, jitted with the state's and batch's shardings and the config's compiler
  options; the train step donates the state and sums it is given."""
  batch_sharding, options = network.batch_sharding(), compiler_options(config)
  p_train_step = jax.jit(functools.partial(summed_train_step, step_fn=step_fn, network=network, tx=tx, config=config),
                         in_shardings=(state_sharding, None, batch_sharding, None),
                         out_shardings=(state_sharding, None), donate_argnums=(0, 1), compiler_options=options)
  p_eval_step = jax.jit(functools.partial(eval_step, network=network, config=config),
                        in_shardings=(state_sharding, batch_sharding, None), compiler_options=options)
  return p_train_step, p_eval_step


def apply_plateau(state: TrainState, validation_error: float, rule: optim.Plateau | None) -> TrainState:
  """Feeds the validation error to the plateau rule (None: the schedule is not 'plateau') and sets the optimiser's
  plateau scale from it."""
  if rule is None:
    return state
  plateau = rule.step(state.plateau, validation_error)
  return state.replace(plateau=plateau, opt_state=optim.set_plateau_scale(state.opt_state, rule.scale(plateau)))
