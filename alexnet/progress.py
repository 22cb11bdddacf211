"""What a run reports while it trains: scalars in the log and in TensorBoard event files, progress (steps/s, ETA,
images/s), and profiles. The events are written with TensorBoard's own event writer and summary protos, so training
needs no TensorFlow (TFDS needs it to prepare datasets, not to read them)."""
from __future__ import annotations

import collections
import contextlib
import sys
import time
import types
from typing import Any, Iterator, Mapping

from absl import logging
import jax
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from tensorboard.plugins.scalar import summary_v2 as scalar_summary
from tensorboard.summary.writer import event_file_writer


def use_tensorboard_without_tensorflow() -> None:
  """Makes TensorBoard write and read event files through its own file layer, never TensorFlow's.

  TensorBoard's compat layer imports TensorFlow for file access whenever it is installed, which costs a training
  process seconds at start for nothing it needs. A module named `tensorboard.compat.notf` is TensorBoard's own switch
  to its TensorFlow-free stub (the one it uses where TensorFlow is absent), so a run behaves the same with TensorFlow
  installed or not. The stub serves local paths (and S3), not gs://."""
  sys.modules.setdefault('tensorboard.compat.notf', types.ModuleType('tensorboard.compat.notf'))


class Writer:
  """Scalars and hyperparameters to the log (INFO) and, given `logdir`, to TensorBoard event files there."""

  def __init__(self, logdir: str | None):
    use_tensorboard_without_tensorflow()
    self._events = event_file_writer.EventFileWriter(logdir) if logdir else None

  def _add(self, step: int, summary) -> None:
    if self._events is not None:
      self._events.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

  def write_scalars(self, step: int, scalars: Mapping[str, float], log: bool = True) -> None:
    """The scalars as events, and in the log unless `log` is False."""
    if log:
      logging.info('[%d] %s', step, ', '.join(f'{k}={v:.6g}' if isinstance(v, float) else f'{k}={v}'
                                              for k, v in sorted(scalars.items())))
    for tag, value in scalars.items():
      self._add(step, scalar_summary.scalar_pb(tag, value))

  def write_hparams(self, hparams: Mapping[str, Any]) -> None:
    """`hparams`: bool, int, float or str values (TensorBoard's HParams tab)."""
    logging.info('[Hyperparameters] %s', dict(hparams))
    self._add(0, hparams_summary.hparams_pb(dict(hparams)))

  def flush(self) -> None:
    if self._events is not None:
      self._events.flush()

  def close(self) -> None:
    if self._events is not None:
      self._events.close()


def _format_seconds(seconds: float) -> str:
  days, rest = divmod(int(seconds), 86400)
  hours, rest = divmod(rest, 3600)
  return (f'{days}d' if days else '') + (f'{hours}h' if hours else '') + f'{rest // 60}m'


class Progress:
  """Called after every step. Every `every_steps` steps and at the last: logs steps/s, the share of the steps done,
  the ETA and the share of time spent in each `timed` part (evaluation, checkpoints), and writes steps_per_sec,
  uptime and train/images_per_sec (the training rate, the time inside `timed` parts left out). The first call only
  starts the clock: its step held the compilation."""

  def __init__(self, writer: Writer, total_steps: int, every_steps: int, images_per_step: int):
    self.images_per_sec = 0.0
    self._writer, self._total, self._every, self._images_per_step = writer, total_steps, every_steps, images_per_step
    self._start, self._parts = time.monotonic(), collections.defaultdict(float)
    self._last = None  # (step, time, seconds in timed parts) when the clock last read.
    self.status = ''   # appended to each line: the plateau rule's drops so far, set by the loop.

  @contextlib.contextmanager
  def timed(self, name: str) -> Iterator[None]:
    start = time.monotonic()
    yield
    self._parts[name] += time.monotonic() - start

  def __call__(self, step: int) -> None:
    now, parts = time.monotonic(), sum(self._parts.values())
    if self._last is None:
      self._last = (step, now, parts)
    elif step != self._last[0] and (step % self._every == 0 or step == self._total):
      self._report(step, now, parts)
      self._last = (step, now, parts)

  def _report(self, step: int, now: float, parts: float) -> None:
    last_step, last_time, last_parts = self._last
    steps_per_sec = (step - last_step) / (now - last_time)
    self.images_per_sec = (step - last_step) * self._images_per_step / max(now - last_time - (parts - last_parts),
                                                                           1e-9)
    uptime = now - self._start
    message = (f'{steps_per_sec:.1f} steps/s, {100 * step / self._total:.1f}% ({step}/{self._total}), '
               f'ETA: {_format_seconds((self._total - step) / steps_per_sec)}')
    if self._parts:
      message += f' ({_format_seconds(uptime)} : ' + ', '.join(
          f'{100 * dt / uptime:.1f}% {name}' for name, dt in sorted(self._parts.items())) + ')'
    if self.status:
      message += f'; {self.status}'
    logging.info('%s', message)
    self._writer.write_scalars(step, {'steps_per_sec': steps_per_sec, 'uptime': uptime,
                                      'train/images_per_sec': self.images_per_sec})


class Profile:
  """A TensorBoard profile (jax.profiler's trace, under `logdir`/plugins/profile) of the `num_steps` steps after
  step `first`."""

  def __init__(self, logdir: str, first: int, num_steps: int):
    self._logdir, self._first, self._num_steps, self._running = logdir, first, num_steps, False

  def __call__(self, step: int) -> None:
    if step == self._first:
      try:
        jax.profiler.start_trace(self._logdir)
        self._running = True
      except Exception as e:  # pylint: disable=broad-except  (a profile is not worth the run)
        logging.exception('could not start profiling: %s', e)
    elif self._running and step >= self._first + self._num_steps:
      self.stop()

  def stop(self) -> None:
    if self._running:
      jax.profiler.stop_trace()
      self._running = False
