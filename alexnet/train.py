"""Training and evaluation: pure jitted steps, and the loop around them (clu progress and metric writers, minival
evaluation, orbax checkpoints, preemption)."""
from __future__ import annotations

import functools
import json
import os
import signal
import threading
import time
from typing import Any, Callable

from absl import logging
from clu import metric_writers
from clu import periodic_actions
import flax
import grain
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from alexnet import augment
from alexnet import model as model_lib
from alexnet import optim
from alexnet import parallel
from alexnet import provenance
from alexnet import validation
from alexnet.data import order
from alexnet.data import sources
from alexnet.data import splits
from alexnet.data import statistics


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
  """XLA options for the jitted steps. On CPU, XLA hands convolutions to YNNPACK by default; its own convolutions
  ('xla') run AlexNet's 2-5x faster on this project's CPUs (README, Train-step speed), and dots stay with YNNPACK."""
  if jax.default_backend() != 'cpu' or config.cpu_conv_library == 'ynnpack':
    return None
  return {'xla_cpu_experimental_ynn_fusion_type': 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}


def create_train_state(config, network: parallel.Network, tx: optax.GradientTransformation,
                       image_shape) -> TrainState:
  variables = network.init(jax.random.key(config.seed), image_shape)
  params = variables['params']
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=variables.get('batch_stats'),
                    opt_state=tx.init(params), plateau=optim.init_plateau(optim.plateau_rule(config)))


def init_state(config, network: parallel.Network, tx: optax.GradientTransformation, image_shape):
  """(state, its shardings): the state is created where it lives (sharded over the mesh; None on one device)."""
  init = functools.partial(create_train_state, config, network, tx, tuple(image_shape))
  state_sharding = network.shardings(jax.eval_shape(init))
  return jax.jit(init, out_shardings=state_sharding)(), state_sharding


def _variables(params, batch_stats):
  return {'params': params} if batch_stats is None else {'params': params, 'batch_stats': batch_stats}


def _errors(logits_or_probs: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
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
  views = augment.eval_views(batch['image'], stats, config)
  n, v = views.shape[:2]
  logits, _ = network.apply(_variables(state.params, state.batch_stats), views.reshape(n * v, *views.shape[2:]))
  probs = jax.nn.softmax(logits).reshape(n, v, -1).mean(axis=1)
  labels, mask = batch['label'], batch['mask'].astype(jnp.float32)
  loss = -jnp.log(jnp.take_along_axis(probs, labels[:, None], axis=-1)[:, 0] + 1e-12)
  top1, top5 = _errors(probs, labels)
  return {'loss': (loss * mask).sum(), 'top1_error': (top1 * mask).sum(), 'top5_error': (top5 * mask).sum(),
          'count': mask.sum()}


def zero_sums() -> dict[str, jax.Array]:
  """The running sums `summed_train_step` starts a logging window with: a zero per train metric, and
  first_nonfinite (the first step whose loss or gradient norm was not finite; 0: none)."""
  return {k: jnp.zeros((), jnp.int32 if k in ('nonfinite', 'first_nonfinite') else jnp.float32)
          for k in (*TRAIN_METRICS, 'first_nonfinite')}


def summed_train_step(state: TrainState, sums, batch, stats, **kwargs):
  """`train_step` that adds its metrics to running sums on the device (fetched at log time, not every step): one
  program per step, so the loop launches and waits for one thing."""
  new_state, metrics = train_step(state, batch, stats, **kwargs)
  first = jnp.where((sums['first_nonfinite'] == 0) & (metrics['nonfinite'] > 0), new_state.step,
                    sums['first_nonfinite'])
  return new_state, {k: sums[k] + metrics[k] for k in metrics} | {'first_nonfinite': first}


def jit_steps(config: ml_collections.ConfigDict, network: parallel.Network, tx: optax.GradientTransformation,
              state_sharding) -> tuple[Callable, Callable]:
  """`summed_train_step` (state, sums, batch, stats) -> (state, sums) and `eval_step` jitted with the state's and
  batch's shardings and the config's compiler options; the train step donates the state and sums it is given."""
  batch_sharding, options = network.batch_sharding(), compiler_options(config)
  p_train_step = jax.jit(functools.partial(summed_train_step, network=network, tx=tx, config=config),
                         in_shardings=(state_sharding, None, batch_sharding, None),
                         out_shardings=(state_sharding, None), donate_argnums=(0, 1), compiler_options=options)
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


class NonFiniteError(FloatingPointError):
  """A training step's loss or gradient norm was not finite (config.nonfinite='stop')."""


class Preempted(RuntimeError):
  """SIGTERM or SIGINT: the run finished its step, saved a checkpoint at the state's step and stopped. The same
  command resumes it."""


class StopSignals:
  """SIGTERM and SIGINT ask the loop to finish its step, save and stop; a second SIGINT interrupts at once.

  One process: Python handlers note the signal. Several processes: JAX's preemption service (started by
  jax.distributed.initialize) owns SIGTERM and makes all processes agree on the step to stop at
  (`multihost_utils.reached_preemption_sync_point`, which every process calls after every step); SIGINT is passed to
  it as SIGTERM.
  """

  def __init__(self):
    self.received, self._previous = None, {}
    self._multiprocess = jax.process_count() > 1

  def __enter__(self) -> StopSignals:
    if threading.current_thread() is threading.main_thread():  # handlers can only be set there.
      for sig in (signal.SIGINT,) if self._multiprocess else (signal.SIGINT, signal.SIGTERM):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def _handle(self, signum, frame) -> None:
    del frame
    if self.received is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.received = signal.Signals(signum).name
    logging.warning('%s: finishing this step, then saving a checkpoint and stopping', self.received)
    if self._multiprocess:
      os.kill(os.getpid(), signal.SIGTERM)

  def should_stop(self, step: int) -> bool:
    if self._multiprocess:
      return multihost_utils.reached_preemption_sync_point(step)
    return self.received is not None


class ReportProgress(periodic_actions.ReportProgress):
  """clu's progress report (steps/s, ETA, the share of time in evaluation and checkpoints) that also writes
  train/images_per_sec: the training rate, with the time inside `timed` parts left out."""

  def __init__(self, *, images_per_step: int, **kwargs):
    super().__init__(**kwargs)
    self.images_per_sec, self._images_per_step, self._parts_before = 0.0, images_per_step, 0.0

  def _apply(self, step: int, t: float) -> None:
    parts = sum(self._time_per_part.values())
    train_seconds = max(t - self._previous_time - (parts - self._parts_before), 1e-9)
    self.images_per_sec = (step - self._previous_step) * self._images_per_step / train_seconds
    self._parts_before = parts
    super()._apply(step, t)
    if self._writer is not None:
      self._writer.write_scalars(step, {'train/images_per_sec': self.images_per_sec})


def put_batch(batch: dict[str, np.ndarray], sharding) -> dict[str, jax.Array]:
  if sharding is None:
    return jax.tree.map(jnp.asarray, batch)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def wait_each_step() -> bool:
  """Several virtual CPU devices share this host's cores. The train and eval loops then wait for each step before
  dispatching the next: programs queued behind each other starved an all-gather past XLA:CPU's 40 s rendezvous limit
  once here (2 cores, during evaluation), and two train steps in flight ran 4% slower than one. Batches are read
  ahead on another thread, so little overlap is lost. An accelerator queues steps instead."""
  return jax.default_backend() == 'cpu' and jax.local_device_count() > 1


def evaluate(state, split, stats, p_eval_step, config, batch_sharding) -> dict[str, float]:
  """Loss and errors over `split` (minival, or test once at the end), its batches read ahead."""
  sums, wait = None, wait_each_step()
  for batch in order.eval_batches(split, config.batch_size, config.num_eval_batches,
                                  order.input_workers(config, split)):
    out = p_eval_step(state, put_batch(batch, batch_sharding), stats)
    if wait:
      jax.block_until_ready(out)
    sums = out if sums is None else jax.tree.map(jnp.add, sums, out)
  sums = jax.device_get(sums)
  count = sums.pop('count')
  return {k: float(v / count) for k, v in sums.items()}


def _checkpoint_args(state, meta, batches) -> ocp.args.Composite:
  """The train state, the JSON meta, and the grain iterator's state (one file per process)."""
  return ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta),
                            data=grain.checkpoint.CheckpointSave(batches))


def train_batches(train_split, config, checkpoints: ocp.CheckpointManager, meta: dict, start_step: int):
  """This process's training batches from `start_step` on, as a grain iterator (`order.train_dataset`).

  Resuming, the iterator's state comes from the checkpoint: the dataset is rebuilt from the saved origin (the step it
  was built at) and set to the saved state. A checkpoint without one for this process layout (written before the
  iterator was saved, or by another number of processes) starts the order at `start_step` instead: batch `step` is a
  function of the step alone, so the batches are the same."""
  workers = order.input_workers(config, train_split)
  step = checkpoints.latest_step()
  state_file = (os.path.join(checkpoints.directory, str(step), 'data',
                             f'process_{jax.process_index()}-of-{jax.process_count()}.json')
                if step is not None else None)
  if state_file and 'data_origin' in meta and os.path.exists(state_file):
    batches = order.iterate(order.train_dataset(train_split, config, meta['data_origin']), workers)
    checkpoints.restore(step, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(batches)))
    return batches, meta['data_origin']
  if step is not None:
    logging.warning('checkpoint %d holds no data iterator state for this process layout; the batch order restarts '
                    'at step %d from the indices (the same batches)', step, start_step)
  return order.iterate(order.train_dataset(train_split, config, start_step), workers), start_step


def restore_state(workdir: str, abstract_state=None, step: int | None = None):
  """(state, meta) from the latest checkpoint in `workdir` (or `step`'s); meta holds the minival history and elapsed
  seconds. With `abstract_state` (shapes, dtypes, shardings) the state comes back as that TrainState on its devices;
  without, as a dict of NumPy arrays, whatever devices and processes it was saved from."""
  directory = os.path.abspath(os.path.join(workdir, 'checkpoints'))
  if abstract_state is not None:
    manager = ocp.CheckpointManager(directory)
    restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
    return restored.state, restored.meta
  manager = ocp.CheckpointManager(directory, item_handlers={'state': ocp.PyTreeCheckpointHandler(),
                                                            'meta': ocp.JsonCheckpointHandler()})
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f'no checkpoint under {directory}')
  as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), manager.item_metadata(step)['state'].tree)
  restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(restore_args=as_numpy),
                                                           meta=ocp.args.JsonRestore()))
  return restored.state, restored.meta


def init_from_params(source: Any, params: Any, init_from: str) -> Any:
  """`params` (arrays or shapes) with each layer taken from `source` (the params of config.init_from's checkpoint)
  where the shapes match. fc8 keeps its fresh initialisation when num_classes differs; conv1's kernels of a grey
  (one-channel) net are spread over three channels (each w / 3: the colour net first sees the image's grey level).
  Any other difference raises ConfigError."""
  flat = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(source)}

  def leaf(path, new):
    key, old = jax.tree_util.keystr(path), flat.get(jax.tree_util.keystr(path))
    if old is not None and old.shape == new.shape:
      return np.asarray(old, new.dtype)
    if old is not None and "'fc8'" in key and old.shape[:-1] == new.shape[:-1]:
      logging.info('init_from: %s re-initialised (%s classes, not %s)', key, new.shape[-1], old.shape[-1])
      return new
    if old is not None and "'conv1'" in key and 'kernel' in key and old.shape[-2] == 1 and new.shape[-2] == 3 \
        and old.shape[:-2] == new.shape[:-2] and old.shape[-1] == new.shape[-1]:
      logging.info('init_from: %s spread from one input channel over three', key)
      return np.repeat(np.asarray(old, new.dtype) / 3, 3, axis=-2)
    raise validation.ConfigError(
        f'config.init_from={init_from!r}: params{key} is {None if old is None else tuple(old.shape)}, this net needs '
        f'{tuple(new.shape)} (only fc8, for another num_classes, may differ)')

  return jax.tree_util.tree_map_with_path(leaf, params)


def source_params(config: ml_collections.ConfigDict, image_shape) -> Any:
  """The params of config.init_from's latest checkpoint (None when unset), checked against the net `config`
  describes before anything is written."""
  if not config.init_from:
    return None
  source = restore_state(config.init_from)[0]['params']
  tower, head = model_lib.from_config(config)
  init_from_params(source, jax.eval_shape(lambda: model_lib.init_variables(
      tower, head, jax.random.key(0), tuple(image_shape)))['params'], config.init_from)
  return source


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *, allow_config_change: bool = False,
                       reference: ml_collections.ConfigDict | None = None) -> dict[str, Any]:
  """Trains per `config`, writing TensorBoard events, checkpoints and summary.json to `workdir`; resumes from it.

  Evaluation protocol: the last `minival_examples` training examples are held out as minival; every periodic
  evaluation and the plateau rule read minival. The test split is evaluated once, at the end.

  Faults: a bad config, a missing dataset or a workdir of another config raise before anything is written
  (validation.ConfigError, data.errors.DataError); SIGTERM/SIGINT save a checkpoint at the state's step and raise
  Preempted; a non-finite step raises NonFiniteError before any checkpoint holds it. Checkpoints are written to a
  temporary directory and renamed when complete, so a run killed at any moment resumes from the last complete one.
  `reference`: the config `config` derives from, for validation.validate and validation.check_workdir.
  """
  validation.validate(config, len(jax.devices()), jax.process_count(), reference)
  validation.check_workdir(config, workdir, allow_config_change, reference)
  train_split = sources.open_split(config, config.train_split)
  test_split = sources.open_split(config, config.test_split)
  validation.validate_data(config, train_split.num_examples, train_split.image_shape)
  train_split, minival_split = splits.hold_out_minival(train_split, config.minival_examples)
  train_split = splits.training_subset(train_split, config)
  fresh = not os.path.isdir(os.path.join(workdir, 'checkpoints')) or not any(
      name.isdigit() for name in os.listdir(os.path.join(workdir, 'checkpoints')))
  source = source_params(config, (config.image_size, config.image_size, train_split.image_shape[-1])) if fresh \
      else None
  return _train(config, workdir, train_split, minival_split, test_split, source)


def _train(config, workdir, train_split, minival_split, test_split, source=None) -> dict[str, Any]:
  code = provenance.code_version()  # the code this process runs, read before a later edit can change the tree.
  network = build_network(config)
  stats = {k: jnp.asarray(v) for k, v in statistics.cached_statistics(train_split, config).items()}
  steps_per_epoch = train_split.num_examples // config.batch_size
  total_steps = optim.total_train_steps(config, steps_per_epoch)
  eval_every = (config.eval_every_steps if config.eval_every_steps > 0
                else max(1, round(config.eval_every_epochs * steps_per_epoch)))
  tx = optim.make_optimizer(config, steps_per_epoch)
  image_shape = (config.image_size, config.image_size, train_split.image_shape[-1])

  state, state_sharding = init_state(config, network, tx, image_shape)
  batch_sharding = network.batch_sharding()
  p_train_step, p_eval_step = jit_steps(config, network, tx, state_sharding)
  evaluate_on = lambda split: evaluate(state, split, stats, p_eval_step, config, batch_sharding)

  os.makedirs(workdir, exist_ok=True)
  checkpoint_dir = os.path.abspath(os.path.join(workdir, 'checkpoints'))
  checkpoints = ocp.CheckpointManager(checkpoint_dir, options=ocp.CheckpointManagerOptions(
      max_to_keep=config.max_checkpoints, create=True, cleanup_tmp_directories=True))
  # What the checkpoint carries besides the state, so that summary.json covers the whole run across resumes.
  meta = {'minival_history': [], 'elapsed_seconds': 0.0}
  if checkpoints.latest_step() is not None:
    state, meta = restore_state(workdir, jax.tree.map(ocp.utils.to_shape_dtype_struct, state))
    logging.info('Resumed from %s at step %d', workdir, int(state.step))
  elif source is not None:  # a fresh run from config.init_from's parameters; optimiser state starts fresh.
    state = state.replace(params=init_from_params(source, state.params, config.init_from))
    state = jax.device_put(state, state_sharding) if state_sharding is not None else state
    logging.info('Started from the parameters of %s', config.init_from)
  start_step = int(state.step)
  history, skipped = list(meta['minival_history']), meta.get('skipped_steps', 0)

  lead = jax.process_index() == 0
  if lead:
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=2))
  # TensorBoard events and log lines from the first process only (the others log warnings and errors).
  writer = metric_writers.create_default_writer(workdir, just_logging=not lead)
  if start_step == 0:
    writer.write_hparams({k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in config.items()})
  logging.info('%s: %d train / %d minival / %d test examples, %d steps (%d per epoch), image %s, devices %s over %d '
               'process(es)', config.config_name, train_split.num_examples,
               minival_split.num_examples if minival_split else 0, test_split.num_examples, total_steps,
               steps_per_epoch, image_shape, dict(network.mesh.shape) if network.mesh is not None else 'single',
               jax.process_count())
  if minival_split is None:
    logging.warning('minival_examples=0: no evaluation until the final test evaluation.')

  report = ReportProgress(num_train_steps=total_steps, writer=writer, every_steps=config.log_every_steps,
                          every_secs=None, images_per_step=config.batch_size)
  hooks = [report]
  if config.profile_steps > 0 and lead:
    hooks.append(periodic_actions.Profile(logdir=workdir, num_profile_steps=config.profile_steps,
                                          profile_duration_ms=None, first_profile=start_step + 10,
                                          every_secs=None))
  batches, data_origin = train_batches(train_split, config, checkpoints, meta, start_step)
  minival_metrics, sums, window, wait = {}, None, 0, wait_each_step()
  run_start = time.time()
  elapsed = lambda: meta['elapsed_seconds'] + time.time() - run_start
  step = start_step
  try:
    with StopSignals() as signals:
      while step < total_steps:
        batch = put_batch(next(batches), batch_sharding)
        state, sums = p_train_step(state, zero_sums() if sums is None else sums, batch, stats)
        if wait:
          jax.block_until_ready(sums)
        step, window = step + 1, window + 1
        for hook in hooks:
          hook(step)
        log = step % config.log_every_steps == 0 or step == total_steps
        do_eval = minival_split is not None and (step % eval_every == 0 or step == total_steps)
        save = step % config.checkpoint_every_steps == 0 or step == total_steps
        stop = signals.should_stop(step)
        if not (log or do_eval or save or stop):
          continue
        fetched = jax.device_get(sums)
        if fetched['nonfinite'] and config.nonfinite == 'stop':  # before any save: every checkpoint is finite.
          raise NonFiniteError(
              f"non-finite loss or gradient norm at step {int(fetched['first_nonfinite'])}; stopped. The last good "
              f'checkpoint is step {checkpoints.latest_step()} in {checkpoint_dir} (nothing after it was saved). '
              'Lower the learning rate, or set --config.nonfinite=skip to skip such steps.')
        if log:
          if fetched['nonfinite']:
            logging.warning('%d non-finite step(s) skipped in the last %d', int(fetched['nonfinite']), window)
          skipped += int(fetched['nonfinite'])
          scalars = {f'train/{k}': float(fetched[k]) / window for k in TRAIN_METRICS if k != 'nonfinite'}
          writer.write_scalars(step, scalars | {'train/epoch': step / steps_per_epoch})
          sums, window, fetched = None, 0, {'nonfinite': 0}
        if do_eval:
          with report.timed('eval', wait_jax_async_dispatch=False):
            minival_metrics = evaluate_on(minival_split)
          state = apply_plateau(state, minival_metrics['top1_error'], config)
          if state_sharding is not None:
            state = jax.device_put(state, state_sharding)
          lr = float(optim.current_learning_rate(state.opt_state))
          writer.write_scalars(step, {f'minival/{k}': v for k, v in minival_metrics.items()} | {
              'minival/learning_rate': lr})
          history.append({'step': step, **minival_metrics, 'learning_rate': lr})
        if (save or stop) and checkpoints.latest_step() != step:
          meta = {'minival_history': history, 'elapsed_seconds': elapsed(),
                  'skipped_steps': skipped + int(fetched['nonfinite']), 'data_origin': data_origin}
          run_start = time.time()
          with report.timed('checkpoint', wait_jax_async_dispatch=False):
            checkpoints.save(step, args=_checkpoint_args(state, meta, batches), force=True)
        if stop:
          checkpoints.wait_until_finished()
          raise Preempted(f'{signals.received or "preemption notice"} at step {step}: saved checkpoint {step} in '
                          f'{checkpoint_dir}; run the same command to resume.')
  finally:
    checkpoints.wait_until_finished()
    order.close_iterator(batches)
    writer.flush()

  if minival_split is not None and not minival_metrics:  # resumed at the end: evaluate the restored state.
    minival_metrics = evaluate_on(minival_split)
  test_metrics = evaluate_on(test_split)  # the one evaluation on the test split.
  writer.write_scalars(step, {f'test/{k}': v for k, v in test_metrics.items()})
  writer.close()
  summary = {'config_name': config.config_name, 'step': step, 'epoch': step / steps_per_epoch,
             'top1_error': test_metrics['top1_error'], 'top5_error': test_metrics['top5_error'],
             'test_loss': test_metrics['loss'], 'test_split': config.test_split,
             'minival_top1_error': minival_metrics.get('top1_error'),
             'minival_top5_error': minival_metrics.get('top5_error'), 'minival_loss': minival_metrics.get('loss'),
             'minival_examples': minival_split.num_examples if minival_split else 0,
             'train_images_per_sec': report.images_per_sec, 'wall_seconds': elapsed(), 'skipped_steps': skipped,
             **code, 'minival_history': history}
  if lead:
    with open(os.path.join(workdir, 'summary.json'), 'w') as f:
      json.dump(summary, f, indent=2)
  return summary
