"""Stopping a run cleanly when asked: SIGTERM (a cluster's preemption notice) and SIGINT (Ctrl-C)."""
from __future__ import annotations

import os
import signal
import threading

from absl import logging
import jax
from jax.experimental import multihost_utils


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
