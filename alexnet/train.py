"""The training loop around the pure steps of steps.py: minival evaluations and the plateau rule, the one test
evaluation at the end, checkpoints and resume (checkpoint.py), stopping on signals (signals.py), progress and
TensorBoard events (progress.py), and summary.json."""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable

from absl import logging
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from alexnet import checkpoint
from alexnet import optim
from alexnet import progress
from alexnet import provenance
from alexnet import run_summary
from alexnet import signals
from alexnet import steps
from alexnet import validation
from alexnet import workdir_lock
from alexnet.data import errors
from alexnet.data import order
from alexnet.data import sources
from alexnet.data import splits
from alexnet.data import statistics


class NonFiniteError(FloatingPointError):
  """A training step's loss or gradient norm was not finite (config.nonfinite='stop')."""


class Preempted(RuntimeError):
  """SIGTERM or SIGINT: the run finished its step, saved a checkpoint at the state's step and stopped. The same
  command resumes it."""


def put_batch(batch: dict[str, np.ndarray], sharding) -> dict[str, jax.Array]:
  if sharding is None:
    return jax.tree.map(jnp.asarray, batch)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def wait_each_step() -> bool:
  """Several virtual CPU devices share this host's cores. The train and eval loops then wait for each step before
  dispatching the next: programs queued behind each other can starve an all-gather past XLA:CPU's rendezvous time
  limit, and two train steps in flight run slower than one (docs/performance.md). Batches are read ahead on another
  thread, so little overlap is lost. An accelerator queues steps instead."""
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


@dataclasses.dataclass(frozen=True)
class Data:
  """The splits a run reads: train (minival held out of it), minival (None with minival_examples=0) and test."""
  train: splits.Split
  minival: splits.Split | None
  test: splits.Split


def open_data(config: ml_collections.ConfigDict) -> Data:
  """The config's splits, checked against it (DataError, ConfigError)."""
  train = sources.open_split(config, config.train_split)
  test = sources.open_split(config, config.test_split)
  validation.validate_data(config, train.num_examples, train.image_shape)
  train, minival = splits.hold_out_minival(train, config.minival_examples)
  return Data(splits.training_subset(train, config), minival, test)


@dataclasses.dataclass
class Record:
  """What a run carries across resumes in each checkpoint's meta, so that summary.json covers the whole run: the
  minival history, the plateau rule's drops, the skipped non-finite steps, the seconds trained before this process
  started, and the step the batch order was built at (the data iterator's origin)."""
  history: list[dict[str, float]]
  skipped: int
  seconds_before: float
  data_origin: int
  drops: list[dict[str, float]] = dataclasses.field(default_factory=list)
  started: float = dataclasses.field(default_factory=time.time)

  @classmethod
  def from_meta(cls, meta: dict, data_origin: int) -> Record:
    return cls(list(meta.get('minival_history', [])), meta.get('skipped_steps', 0), meta.get('elapsed_seconds', 0.0),
               data_origin, list(meta.get('lr_drops', [])))

  def elapsed(self) -> float:
    return self.seconds_before + time.time() - self.started

  def meta(self, unlogged_skips: int) -> dict[str, Any]:
    return {'minival_history': list(self.history), 'lr_drops': list(self.drops), 'elapsed_seconds': self.elapsed(),
            'skipped_steps': self.skipped + unlogged_skips, 'data_origin': self.data_origin}


def train_batches(split, config, checkpoints: checkpoint.Checkpoints, meta: dict,
                  start_step: int) -> tuple[grain.DatasetIterator, int]:
  """(iterator, origin): this process's training batches from `start_step` on, as a grain iterator
  (`order.train_dataset`), and the step its dataset was built at.

  Resuming, the iterator's state comes from the checkpoint: the dataset is rebuilt from the saved origin and set to
  the saved state. A checkpoint without one for this process layout (written before the iterator was saved, or by
  another number of processes) starts the order at `start_step` instead: batch `step` is a function of the step
  alone, so the batches are the same."""
  workers = order.input_workers(config, split)
  if 'data_origin' in meta:
    batches = order.iterate(order.train_dataset(split, config, meta['data_origin']), workers)
    if checkpoints.restore_iterator(batches):
      return batches, meta['data_origin']
    order.close_iterator(batches)
  if checkpoints.latest_step() is not None:
    logging.warning('checkpoint %d holds no data iterator state for this process layout; the batch order restarts '
                    'at step %d from the indices (the same batches)', checkpoints.latest_step(), start_step)
  return order.iterate(order.train_dataset(split, config, start_step), workers), start_step


@dataclasses.dataclass(frozen=True)
class Run:
  """What a run is set up with, once: nothing here is replaced while it trains."""
  config: ml_collections.ConfigDict
  workdir: str
  data: Data
  code: dict[str, Any]  # provenance.code_version(), read before a later edit can change the tree.
  stats: dict[str, jax.Array]
  steps_per_epoch: int
  total_steps: int
  eval_every: int
  plateau: optim.Plateau | None  # the plateau rule, when schedule == 'plateau'.
  state_sharding: Any
  batch_sharding: Any
  p_train_step: Callable
  p_eval_step: Callable
  checkpoints: checkpoint.Checkpoints
  writer: progress.Writer
  report: progress.Progress
  profile: progress.Profile | None

  def due(self, step: int) -> tuple[bool, bool, bool]:
    """(log, evaluate on minival, save) after `step`: every so many steps, and all three after the last."""
    last, config = step == self.total_steps, self.config
    return (step % config.log_every_steps == 0 or last,
            self.data.minival is not None and (step % self.eval_every == 0 or last),
            step % config.checkpoint_every_steps == 0 or last)

  def evaluate(self, state, split) -> dict[str, float]:
    return evaluate(state, split, self.stats, self.p_eval_step, self.config, self.batch_sharding)

  def rule_done(self, state) -> bool:
    """The plateau rule is done and ends the run (config.plateau_ends_run)."""
    return self.plateau is not None and self.config.plateau_ends_run and self.plateau.done(state.plateau)


def _initial_state(config, workdir: str, network, tx, image_shape, checkpoints: checkpoint.Checkpoints,
                   source) -> tuple[steps.TrainState, Any, dict]:
  """(state, its shardings, meta): the latest checkpoint's state and meta when there is one; otherwise a fresh state
  (its params from config.init_from's when `source` holds them) and an empty meta."""
  state, state_sharding = steps.init_state(config, network, tx, image_shape)
  if checkpoints.latest_step() is not None:
    state, meta = checkpoints.restore(state)
    logging.info('Resumed from %s at step %d', workdir, int(state.step))
    return state, state_sharding, meta
  if source is not None:  # a fresh run from config.init_from's parameters; optimiser state starts fresh.
    state = state.replace(params=checkpoint.init_from_params(source, state.params, config.init_from))
    state = jax.device_put(state, state_sharding) if state_sharding is not None else state
    logging.info('Started from the parameters of %s', config.init_from)
  return state, state_sharding, {}


def _writer(config: ml_collections.ConfigDict, workdir: str, start_step: int) -> progress.Writer:
  """config.json, TensorBoard events and log lines from the first process only (the others log warnings and
  errors); the hyperparameters once, when a run starts."""
  lead = jax.process_index() == 0
  if lead:
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=2))
  writer = progress.Writer(workdir if lead else None)
  if start_step == 0:
    writer.write_hparams({k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in config.items()})
  return writer


def _log_start(run: Run, network, image_shape) -> None:
  data = run.data
  logging.info('%s: %d train / %d minival / %d test examples, %d steps (%d per epoch), image %s, devices %s over %d '
               'process(es)', run.config.config_name, data.train.num_examples,
               data.minival.num_examples if data.minival else 0, data.test.num_examples, run.total_steps,
               run.steps_per_epoch, image_shape, dict(network.mesh.shape) if network.mesh is not None else 'single',
               jax.process_count())
  if data.minival is None:
    logging.warning('minival_examples=0: no evaluation until the final test evaluation.')


def _source_params(config, workdir: str, network, image_shape) -> Any:
  """config.init_from's parameters for a fresh run (None when it is unset or the run resumes), checked against the
  net before anything is written (ConfigError)."""
  if not config.init_from or checkpoint.latest_step(workdir) is not None:
    return None
  return checkpoint.source_params(
      config.init_from, jax.eval_shape(lambda: network.init(jax.random.key(0), image_shape))['params'])


def _set_up(config, workdir: str, data: Data, step_fn: Callable) -> tuple[Run, steps.TrainState, dict]:
  """The run, its first state (fresh, from config.init_from, or resumed) and that state's meta. config.init_from's
  parameters are checked against the net before anything is written (ConfigError)."""
  code = provenance.code_version()
  network = steps.build_network(config)
  steps_per_epoch = data.train.num_examples // config.batch_size
  tx = optim.make_optimizer(config, steps_per_epoch)
  image_shape = (config.image_size, config.image_size, data.train.image_shape[-1])
  source = _source_params(config, workdir, network, image_shape)
  stats = {k: jnp.asarray(v) for k, v in statistics.cached_statistics(data.train, config).items()}
  os.makedirs(workdir, exist_ok=True)
  checkpoints = checkpoint.Checkpoints(workdir, config.max_checkpoints)
  state, state_sharding, meta = _initial_state(config, workdir, network, tx, image_shape, checkpoints, source)
  p_train_step, p_eval_step = steps.jit_steps(config, network, tx, state_sharding, step_fn)
  writer = _writer(config, workdir, int(state.step))
  total_steps = optim.total_train_steps(config, steps_per_epoch)
  eval_every = (config.eval_every_steps if config.eval_every_steps > 0
                else max(1, round(config.eval_every_epochs * steps_per_epoch)))
  plateau = optim.Plateau.from_config(config, steps_per_epoch, eval_every) if config.schedule == 'plateau' else None
  profile = (progress.Profile(workdir, int(state.step) + 10, config.profile_steps)
             if config.profile_steps > 0 and jax.process_index() == 0 else None)
  run = Run(config=config, workdir=workdir, data=data, code=code, stats=stats, steps_per_epoch=steps_per_epoch,
            total_steps=total_steps, eval_every=eval_every, plateau=plateau, state_sharding=state_sharding,
            batch_sharding=network.batch_sharding(), p_train_step=p_train_step, p_eval_step=p_eval_step,
            checkpoints=checkpoints, writer=writer, profile=profile,
            report=progress.Progress(writer, total_steps, config.log_every_steps, config.batch_size))
  _log_start(run, network, image_shape)
  return run, state, meta


def _check_finite(run: Run, fetched: dict[str, Any]) -> None:
  """NonFiniteError (config.nonfinite='stop') before any checkpoint can hold the state: every checkpoint is finite."""
  if not fetched['nonfinite'] or run.config.nonfinite != 'stop':
    return
  what = f"non-finite loss or gradient norm at step {int(fetched['first_nonfinite'])}; stopped."
  last = run.checkpoints.latest_step()
  if last is None:
    raise NonFiniteError(f'{what} No checkpoint was written before it (they are saved every '
                         f'{run.config.checkpoint_every_steps} steps and at the end), so there is nothing to resume: '
                         'lower the learning rate, or set --config.nonfinite=skip to skip such steps, and start the '
                         'run again.')
  raise NonFiniteError(f'{what} The last good checkpoint is step {last} in {run.checkpoints.directory} (nothing after '
                       'it was saved). Lower the learning rate, or set --config.nonfinite=skip to skip such steps.')


def _log_window(run: Run, step: int, fetched: dict[str, Any], window: int) -> None:
  """The train metrics averaged over the `window` steps since the last log line."""
  if fetched['nonfinite']:
    logging.warning('%d non-finite step(s) skipped in the last %d', int(fetched['nonfinite']), window)
  scalars = {f'train/{k}': float(fetched[k]) / window for k in steps.TRAIN_METRICS if k != 'nonfinite'}
  run.writer.write_scalars(step, scalars | {'train/epoch': step / run.steps_per_epoch})


def _evaluate_minival(run: Run, state: steps.TrainState, step: int,
                      record: Record) -> tuple[steps.TrainState, dict[str, float]]:
  """Minival's metrics, fed to the plateau rule, written and added to the history."""
  with run.report.timed('eval'):
    metrics = run.evaluate(state, run.data.minival)
  before, on_grid = state.plateau, step % run.eval_every == 0  # the last step's extra evaluation is not the rule's.
  state = steps.apply_plateau(state, metrics['top1_error'], run.plateau if on_grid else None)
  if run.state_sharding is not None:
    state = jax.device_put(state, run.state_sharding)
  lr = float(optim.current_learning_rate(state.opt_state))
  run.writer.write_scalars(step, {f'minival/{k}': v for k, v in metrics.items()} | {'minival/learning_rate': lr})
  record.history.append({'step': step, **metrics, 'learning_rate': lr})
  if run.plateau is not None and on_grid:
    _report_plateau(run, before, state.plateau, step, record)
  return state, metrics


def drops_status(drops: list[dict[str, float]], max_drops: int) -> str:
  """The progress line's note on the plateau rule: its drops so far and the rate now."""
  if not drops:
    return ''
  return (f"lr {drops[-1]['learning_rate']:g} after {len(drops)} of {max_drops} drops (steps "
          f"{', '.join(str(d['step']) for d in drops)})")


def _report_plateau(run: Run, before, after, step: int, record: Record) -> None:
  """After a window closes: its mean on TensorBoard; a drop or the rule's end in the log and in `record.drops`."""
  rule = run.plateau
  if not rule.window_closed(after):
    return
  on_grid = [h['top1_error'] for h in record.history if h['step'] % run.eval_every == 0]
  window = on_grid[-rule.evals_per_window:]
  mean = float(np.mean(window))
  run.writer.write_scalars(step, {'plateau/window_error': mean, 'plateau/best_window_error': float(after.best_value),
                                  'plateau/drops': min(rule.drops(after), rule.max_drops)})
  if rule.drops(after) == rule.drops(before):
    return
  why = (f'minival error {100 * mean:.2f}% (mean of {len(window)} evaluations) has not beaten the best window '
         f'{100 * float(after.best_value):.2f}% by {100 * rule.threshold:.2f} points for {rule.patience} window(s)')
  epoch = step / run.steps_per_epoch
  if rule.done(after):
    logging.info('plateau rule done at step %d (epoch %.2f): %s after its last drop%s', step, epoch, why,
                 '; the run ends here' if run.config.plateau_ends_run else '')
    return
  lr = float(run.config.learning_rate * rule.scale(after))
  record.drops.append({'step': step, 'epoch': epoch, 'learning_rate': lr, 'window_error': mean})
  run.report.status = drops_status(record.drops, rule.max_drops) + (
      '; the plateau rule may end the run before the ETA' if run.config.plateau_ends_run else '')
  logging.info('plateau: learning rate / 10 -> %g at step %d (epoch %.2f; drop %d of %d): %s', lr, step, epoch,
               rule.drops(after), rule.max_drops, why)


def _loop(run: Run, state: steps.TrainState, record: Record,
          batches: grain.DatasetIterator) -> tuple[steps.TrainState, dict[str, float]]:
  """Trains from the state's step to the last; (final state, the last minival metrics or {} when none ran).

  Train metrics are summed on the device and fetched only when something is due; the loop waits for each step only
  where `wait_each_step` says so."""
  step, minival, wait = int(state.step), {}, wait_each_step()
  sums, window, done = steps.zero_sums(), 0, run.rule_done(state)  # done changes only at an evaluation.
  with signals.StopSignals() as stop_signals:
    while step < run.total_steps and not done:
      state, sums = run.p_train_step(state, sums, put_batch(next(batches), run.batch_sharding), run.stats)
      if wait:
        jax.block_until_ready(sums)
      step, window = step + 1, window + 1
      run.report(step)
      if run.profile is not None:
        run.profile(step)
      (log, do_eval, save), stop = run.due(step), stop_signals.should_stop(step)
      if not (log or do_eval or save or stop):
        continue
      fetched = jax.device_get(sums)
      _check_finite(run, fetched)
      unlogged_skips = int(fetched['nonfinite'])
      if log:
        _log_window(run, step, fetched, window)
        record.skipped += unlogged_skips
        sums, window, unlogged_skips = steps.zero_sums(), 0, 0
      if do_eval:
        state, minival = _evaluate_minival(run, state, step, record)
        done = run.rule_done(state)
        save = save or done
      if (save or stop) and run.checkpoints.latest_step() != step:
        with run.report.timed('checkpoint'):
          run.checkpoints.save(step, state, record.meta(unlogged_skips), batches)
      if stop:
        run.checkpoints.wait_until_finished()
        raise Preempted(f'{stop_signals.received or "preemption notice"} at step {step}: saved checkpoint {step} in '
                        f'{run.checkpoints.directory}; run the same command to resume.')
  return state, minival


def end_reason(run: Run, state: steps.TrainState) -> str:
  """Why the run ended: 'plateau rule done', or the cap ('num_epochs' or 'num_train_steps')."""
  if run.rule_done(state):
    return 'plateau rule done'
  return 'num_train_steps' if run.config.num_train_steps > 0 else 'num_epochs'


def _finish(run: Run, state: steps.TrainState, record: Record, minival: dict[str, float]) -> dict[str, Any]:
  """The one evaluation on the test split, and the run's summary (written to summary.json by the first process)."""
  step = int(state.step)
  if run.data.minival is not None and not minival:  # resumed at the end: evaluate the restored state.
    minival = run.evaluate(state, run.data.minival)
  test = run.evaluate(state, run.data.test)
  run.writer.write_scalars(step, {f'test/{k}': v for k, v in test.items()})
  run.writer.close()
  fields = {'config_name': run.config.config_name, 'step': step, 'epoch': step / run.steps_per_epoch,
            'top1_error': test['top1_error'], 'top5_error': test['top5_error'], 'test_split': run.config.test_split,
            'minival_top1_error': minival.get('top1_error'), 'minival_top5_error': minival.get('top5_error'),
            'train_images_per_sec': run.report.images_per_sec, 'wall_seconds': record.elapsed(), **run.code,
            'minival_history': record.history}
  extra = {'test_loss': test['loss'], 'minival_loss': minival.get('loss'),
           'minival_examples': run.data.minival.num_examples if run.data.minival else 0,
           'skipped_steps': record.skipped, 'end_reason': end_reason(run, state), 'lr_drops': record.drops}
  if jax.process_index() == 0:
    return run_summary.write(run.workdir, fields, **extra)
  return {**fields, **extra}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *, allow_config_change: bool = False,
                       reference: ml_collections.ConfigDict | None = None,
                       step_fn: Callable = steps.train_step) -> dict[str, Any]:
  """Trains per `config`, writing TensorBoard events, checkpoints and summary.json to `workdir`; resumes from it.

  Evaluation protocol: the last `minival_examples` training examples are held out as minival; every periodic
  evaluation and the plateau rule read minival. The test split is evaluated once, at the end.

  Faults: a bad config, a missing dataset, a workdir of another config or one that another run holds raise before
  anything is written (validation.ConfigError, errors.DataError, workdir_lock.WorkdirBusy); SIGTERM/SIGINT save a
  checkpoint at the state's step and raise Preempted; a non-finite step raises NonFiniteError before any checkpoint
  holds it. Checkpoints are written to a temporary directory and renamed when complete, so a run killed at any
  moment resumes from the last complete one.

  `reference`: the config `config` derives from, for validation.validate and validation.check_workdir.
  `step_fn` is the training step (`steps.train_step`); another with its signature changes what a step computes.
  """
  validation.validate(config, len(jax.devices()), jax.process_count(), reference)
  validation.check_workdir(config, workdir, allow_config_change, reference)
  data = open_data(config)
  with workdir_lock.hold(workdir, lead=jax.process_index() == 0):
    return _train(config, workdir, data, step_fn)


def _train(config, workdir: str, data: Data, step_fn: Callable) -> dict[str, Any]:
  """train_and_evaluate's run, its workdir held."""
  run, state, meta = _set_up(config, workdir, data, step_fn)
  batches = None
  try:
    batches, data_origin = train_batches(run.data.train, config, run.checkpoints, meta, int(state.step))
    record = Record.from_meta(meta, data_origin)
    if run.plateau is not None:
      run.report.status = drops_status(record.drops, run.plateau.max_drops)
    state, minival = _loop(run, state, record, batches)
  finally:
    run.checkpoints.close()
    if batches is not None:
      order.close_iterator(batches)
    if run.profile is not None:
      run.profile.stop()
    run.writer.flush()
  return _finish(run, state, record, minival)
