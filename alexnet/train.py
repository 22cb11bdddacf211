"""Training and evaluation: pure jitted steps, and the plain loop around them (logging, eval, checkpoints)."""
from __future__ import annotations

import functools
import json
import os
import time
from typing import Any, Callable

from absl import logging
from clu import metric_writers
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from alexnet import input_pipeline
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


def build_network(config: ml_collections.ConfigDict) -> parallel.Network:
  """The net and where it runs, from the config's model and execution fields."""
  mesh = None
  if config.parallelism == 'mesh':
    mesh = parallel.make_mesh(config.mesh_data, config.mesh_tower)
  elif config.parallelism != 'single':
    raise ValueError(f"parallelism must be 'mesh' or 'single', got {config.parallelism!r}")
  tower, head = model_lib.from_config(config)
  return parallel.Network(tower, head, config.dropout_rate, mesh)


CPU_CONV_LIBRARIES = ('xla', 'ynnpack')


def compiler_options(config: ml_collections.ConfigDict) -> dict[str, str] | None:
  """XLA options for the jitted steps. On CPU, XLA hands convolutions to YNNPACK by default; its own convolutions
  ('xla') run AlexNet's 2-5x faster on this project's CPUs (README, Train-step speed), and dots stay with YNNPACK."""
  if config.cpu_conv_library not in CPU_CONV_LIBRARIES:
    raise ValueError(f'cpu_conv_library must be one of {CPU_CONV_LIBRARIES}, got {config.cpu_conv_library!r}')
  if jax.default_backend() != 'cpu' or config.cpu_conv_library == 'ynnpack':
    return None
  return {'xla_cpu_experimental_ynn_fusion_type': 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}


def create_train_state(config, network: parallel.Network, tx: optax.GradientTransformation,
                       image_shape) -> TrainState:
  variables = network.init(jax.random.key(config.seed), image_shape)
  params = variables['params']
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=variables.get('batch_stats'),
                    opt_state=tx.init(params), plateau=optim.init_plateau(optim.plateau_rule(config)))


def _variables(params, batch_stats):
  return {'params': params} if batch_stats is None else {'params': params, 'batch_stats': batch_stats}


def _errors(logits_or_probs: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-example top-1 and top-5 errors (Section 6) as float32 0/1."""
  top5 = jax.lax.top_k(logits_or_probs, min(5, logits_or_probs.shape[-1]))[1]
  top1_err = (top5[:, 0] != labels).astype(jnp.float32)
  top5_err = 1.0 - jnp.any(top5 == labels[:, None], axis=-1).astype(jnp.float32)
  return top1_err, top5_err


def train_step(state: TrainState, batch, stats, *, network: parallel.Network, tx: optax.GradientTransformation,
               config: ml_collections.ConfigDict):
  """One SGD step on a global batch; pure: (state, batch) -> (state, metrics)."""
  rng = jax.random.fold_in(jax.random.key(config.seed), state.step)
  aug_rng, dropout_rng = jax.random.split(rng)
  images = input_pipeline.augment_train(batch['image'], aug_rng, stats, config)
  labels = batch['label']

  def loss_fn(params):
    logits, new_stats = network.apply(_variables(params, state.batch_stats), images, train=True, rng=dropout_rng)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    if config.debug_nonfinite_step >= 0:  # a test hook: poisons one step's loss and gradients with NaN.
      loss = loss * jnp.where(state.step == config.debug_nonfinite_step, jnp.nan, 1.0)
    return loss, (logits, new_stats)

  (loss, (logits, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  grad_norm = optax.tree.norm(grads)
  finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
  top1, top5 = _errors(logits, labels)
  metrics = {'loss': loss, 'top1_error': top1.mean(), 'top5_error': top5.mean(), 'grad_norm': grad_norm,
             'learning_rate': optim.current_learning_rate(state.opt_state), 'nonfinite': 1 - finite.astype(jnp.int32)}
  new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                            batch_stats=state.batch_stats if new_stats is None else new_stats, opt_state=opt_state)
  if config.nonfinite == 'skip':  # a non-finite step changes nothing but the step count (the data moves on).
    new_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state,
                             state.replace(step=state.step + 1))
  return new_state, metrics


def eval_step(state: TrainState, batch, stats, *, network: parallel.Network, config: ml_collections.ConfigDict):
  """Sums of loss and top-1/top-5 errors over the real examples; softmax averaged over the views (Section 4.1)."""
  views = input_pipeline.eval_views(batch['image'], stats, config)
  n, v = views.shape[:2]
  logits, _ = network.apply(_variables(state.params, state.batch_stats), views.reshape(n * v, *views.shape[2:]))
  probs = jax.nn.softmax(logits).reshape(n, v, -1).mean(axis=1)
  labels, mask = batch['label'], batch['mask'].astype(jnp.float32)
  loss = -jnp.log(jnp.take_along_axis(probs, labels[:, None], axis=-1)[:, 0] + 1e-12)
  top1, top5 = _errors(probs, labels)
  return {'loss': (loss * mask).sum(), 'top1_error': (top1 * mask).sum(), 'top5_error': (top5 * mask).sum(),
          'count': mask.sum()}


def jit_steps(config: ml_collections.ConfigDict, network: parallel.Network, tx: optax.GradientTransformation,
              state_sharding) -> tuple[Callable, Callable]:
  """`train_step` and `eval_step` jitted with the state's and batch's shardings and the config's compiler options;
  the train step donates the state it is given."""
  batch_sharding, options = network.batch_sharding(), compiler_options(config)
  p_train_step = jax.jit(functools.partial(train_step, network=network, tx=tx, config=config),
                         in_shardings=(state_sharding, batch_sharding, None), out_shardings=(state_sharding, None),
                         donate_argnums=0, compiler_options=options)
  p_eval_step = jax.jit(functools.partial(eval_step, network=network, config=config),
                        in_shardings=(state_sharding, batch_sharding, None), compiler_options=options)
  return p_train_step, p_eval_step


def apply_plateau(state: TrainState, validation_error: float, config: ml_collections.ConfigDict) -> TrainState:
  """Feeds the validation error to the plateau rule and sets the rate to learning_rate * its scale."""
  if config.schedule != 'plateau':
    return state
  plateau = optim.step_plateau(optim.plateau_rule(config), state.plateau, validation_error)
  opt_state = optim.set_learning_rate(state.opt_state, config.learning_rate * plateau.scale)
  return state.replace(plateau=plateau, opt_state=opt_state)


NONFINITE_ACTIONS = ('stop', 'skip')


class NonFiniteError(FloatingPointError):
  """A training step's loss or gradient norm was not finite (config.nonfinite='stop')."""


def _validate(config: ml_collections.ConfigDict, network: parallel.Network, train_split, minival_split) -> None:
  if config.nonfinite not in NONFINITE_ACTIONS:
    raise ValueError(f'nonfinite must be one of {NONFINITE_ACTIONS}, got {config.nonfinite!r}')
  shards = network.data_parallelism * jax.process_count()
  if config.batch_size % shards:
    raise ValueError(f'batch_size {config.batch_size} is not divisible by the data axis times processes ({shards})')
  if train_split.num_examples < config.batch_size:
    raise ValueError(f'batch_size {config.batch_size} exceeds the {train_split.num_examples} training examples '
                     f'(after holding out minival_examples={config.minival_examples})')
  if minival_split is None and config.schedule == 'plateau':
    raise ValueError("schedule='plateau' reads the minival error: set minival_examples > 0 (selecting on the test "
                     'split is not offered)')
  h, w = train_split.image_shape[:2]
  if min(h, w) + 2 * config.pad_crop < config.image_size:
    raise ValueError(f'image_size {config.image_size} is larger than the stored images ({h}x{w}) plus pad_crop')


def _put(batch: dict[str, np.ndarray], sharding) -> dict[str, jax.Array]:
  if sharding is None:
    return jax.tree.map(jnp.asarray, batch)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def _format_seconds(seconds: float) -> str:
  m, s = divmod(int(seconds), 60)
  h, m = divmod(m, 60)
  return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


def evaluate(state, split, stats, p_eval_step, config, batch_sharding) -> dict[str, float]:
  """Loss and errors over `split` (minival, or test once at the end).

  The train and eval loops wait for each step before dispatching the next: with several virtual CPU devices on few
  cores, programs queued behind each other starved an all-gather past XLA:CPU's 40 s rendezvous limit once here
  (2 cores, during evaluation), and two train steps in flight ran 4% slower than one. Batches are read ahead on
  another thread, so little overlap is lost.
  """
  sums = None
  for batch in input_pipeline.eval_batches(split, config.batch_size, config.num_eval_batches):
    out = jax.block_until_ready(p_eval_step(state, _put(batch, batch_sharding), stats))  # see the docstring.
    sums = out if sums is None else jax.tree.map(jnp.add, sums, out)
  sums = jax.device_get(sums)
  count = sums.pop('count')
  return {k: float(v / count) for k, v in sums.items()}


def _checkpoint_args(state, meta) -> ocp.args.Composite:
  return ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))


def restore_state(workdir: str, abstract_state=None):
  """(state, meta) from the latest checkpoint in `workdir`; meta holds the minival history and elapsed seconds.
  Without `abstract_state` the arrays come back as saved (to the devices they were saved from)."""
  manager = ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, 'checkpoints')))
  restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
  return restored.state, restored.meta


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains per `config`, writing TensorBoard events, checkpoints and summary.json to `workdir`; resumes from it.

  Evaluation protocol: the last `minival_examples` training examples are held out as minival; every periodic
  evaluation and the plateau rule read minival. The test split is evaluated once, at the end.
  """
  os.makedirs(workdir, exist_ok=True)
  network = build_network(config)
  train_split, minival_split = input_pipeline.hold_out_minival(
      input_pipeline.open_split(config, config.train_split), config.minival_examples)
  test_split = input_pipeline.open_split(config, config.test_split)
  _validate(config, network, train_split, minival_split)
  stats = {k: jnp.asarray(v) for k, v in input_pipeline.cached_statistics(train_split, config).items()}

  steps_per_epoch = train_split.num_examples // config.batch_size
  total_steps = optim.total_train_steps(config, steps_per_epoch)
  eval_every = (config.eval_every_steps if config.eval_every_steps > 0
                else max(1, round(config.eval_every_epochs * steps_per_epoch)))
  tx = optim.make_optimizer(config, steps_per_epoch)
  image_shape = (config.image_size, config.image_size, train_split.image_shape[-1])

  state = jax.jit(functools.partial(create_train_state, config, network, tx, image_shape))()
  state_sharding = network.shardings(state)
  if state_sharding is not None:
    state = jax.device_put(state, state_sharding)
  batch_sharding = network.batch_sharding()
  p_train_step, p_eval_step = jit_steps(config, network, tx, state_sharding)
  evaluate_on = lambda split: evaluate(state, split, stats, p_eval_step, config, batch_sharding)

  checkpoints = ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, 'checkpoints')),
      options=ocp.CheckpointManagerOptions(max_to_keep=config.max_checkpoints, create=True))
  # What the checkpoint carries besides the state, so that summary.json covers the whole run across resumes.
  meta = {'minival_history': [], 'elapsed_seconds': 0.0}
  if checkpoints.latest_step() is not None:
    state, meta = restore_state(workdir, jax.tree.map(ocp.utils.to_shape_dtype_struct, state))
    logging.info('Resumed from %s at step %d', workdir, int(state.step))
  start_step = int(state.step)
  history, skipped = list(meta['minival_history']), meta.get('skipped_steps', 0)

  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort(indent=2))
  # TensorBoard events from the first process only; progress lines go to the log below.
  writer = metric_writers.SummaryWriter(workdir) if jax.process_index() == 0 else metric_writers.MultiWriter([])
  if start_step == 0:
    writer.write_hparams({k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in config.items()})
  logging.info('%s: %d train / %d minival / %d test examples, %d steps (%d per epoch), image %s, devices %s',
               config.config_name, train_split.num_examples, minival_split.num_examples if minival_split else 0,
               test_split.num_examples, total_steps, steps_per_epoch, image_shape,
               network.mesh.shape if network.mesh is not None else 'single')
  if minival_split is None:
    logging.warning('minival_examples=0: no evaluation until the final test evaluation.')

  batches = input_pipeline.train_batches(train_split, config, start_step)
  minival_metrics, train_sums = {}, []
  window_start, window_step, run_start, images_per_sec = time.time(), start_step, time.time(), 0.0
  elapsed = lambda: meta['elapsed_seconds'] + time.time() - run_start
  step = start_step
  try:
    while step < total_steps:
      state, metrics = p_train_step(state, _put(next(batches), batch_sharding), stats)
      train_sums.append(jax.block_until_ready(metrics))  # see evaluate().
      step += 1
      if int(metrics['nonfinite']):
        if config.nonfinite == 'stop':  # before any save: every checkpoint holds a finite state.
          raise NonFiniteError(
              f"non-finite loss ({float(metrics['loss'])}) or gradient norm ({float(metrics['grad_norm'])}) at step "
              f'{step}; stopped. The last good checkpoint is step {checkpoints.latest_step()} in {workdir}/checkpoints '
              '(nothing after it was saved). Lower the learning rate, or set --config.nonfinite=skip to skip such '
              'steps.')
        skipped += 1
        logging.warning('non-finite loss or gradient norm at step %d: step skipped (%d so far)', step, skipped)
      if step % config.log_every_steps == 0 or step == total_steps:
        means = {k: float(np.mean([m[k] for m in jax.device_get(train_sums)])) for k in train_sums[0]}
        now = time.time()
        images_per_sec = (step - window_step) * config.batch_size / (now - window_start)
        eta = (total_steps - step) * config.batch_size / images_per_sec
        scalars = {f'train/{k}': v for k, v in means.items()} | {'train/images_per_sec': images_per_sec}
        writer.write_scalars(step, scalars)
        logging.info('step %d/%d (epoch %.2f) loss %.4f top-1 err %.4f lr %.3g | %.0f img/s | ETA %s', step,
                     total_steps, step / steps_per_epoch, means['loss'], means['top1_error'], means['learning_rate'],
                     images_per_sec, _format_seconds(eta))
        train_sums, window_start, window_step = [], now, step
      if minival_split is not None and (step % eval_every == 0 or step == total_steps):
        eval_start = time.time()
        minival_metrics = evaluate_on(minival_split)
        state = apply_plateau(state, minival_metrics['top1_error'], config)
        if state_sharding is not None:
          state = jax.device_put(state, state_sharding)
        lr = float(optim.current_learning_rate(state.opt_state))
        writer.write_scalars(step, {f'minival/{k}': v for k, v in minival_metrics.items()} | {
            'minival/learning_rate': lr})
        history.append({'step': step, **minival_metrics, 'learning_rate': lr})
        logging.info('minival at step %d: loss %.4f top-1 err %.4f top-5 err %.4f (next lr %.3g)', step,
                     minival_metrics['loss'], minival_metrics['top1_error'], minival_metrics['top5_error'], lr)
        window_start += time.time() - eval_start  # images/s counts training time only.
      if step % config.checkpoint_every_steps == 0 or step == total_steps:
        meta = {'minival_history': history, 'elapsed_seconds': elapsed(), 'skipped_steps': skipped}
        run_start = time.time()
        checkpoints.save(step, args=_checkpoint_args(state, meta))
  except KeyboardInterrupt:
    logging.warning('Interrupted at step %d; saving a checkpoint to resume from.', step)
    checkpoints.save(step, args=_checkpoint_args(state, {'minival_history': history, 'elapsed_seconds': elapsed(),
                                                         'skipped_steps': skipped}), force=True)
    raise
  finally:
    checkpoints.wait_until_finished()
    writer.flush()

  if minival_split is not None and not minival_metrics:  # resumed at the end: evaluate the restored state.
    minival_metrics = evaluate_on(minival_split)
  test_metrics = evaluate_on(test_split)  # the one evaluation on the test split.
  writer.write_scalars(step, {f'test/{k}': v for k, v in test_metrics.items()})
  writer.flush()
  logging.info('test (%s) at step %d: top-1 err %.4f top-5 err %.4f', config.test_split, step,
               test_metrics['top1_error'], test_metrics['top5_error'])
  summary = {'config_name': config.config_name, 'step': step, 'epoch': step / steps_per_epoch,
             'top1_error': test_metrics['top1_error'], 'top5_error': test_metrics['top5_error'],
             'test_loss': test_metrics['loss'], 'test_split': config.test_split,
             'minival_top1_error': minival_metrics.get('top1_error'),
             'minival_top5_error': minival_metrics.get('top5_error'), 'minival_loss': minival_metrics.get('loss'),
             'minival_examples': minival_split.num_examples if minival_split else 0,
             'train_images_per_sec': images_per_sec, 'wall_seconds': elapsed(), 'skipped_steps': skipped,
             'minival_history': history}
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'summary.json'), 'w') as f:
      json.dump(summary, f, indent=2)
  return summary
