"""One owner per workdir: a run holds an OS-level lock on `<workdir>/run.lock` while it trains.

The lock is `fcntl.flock` on an open file: the kernel releases it when its holder exits, however it exits (SIGKILL
included), so a lock left by a killed run is simply free again and the same command takes it over and resumes. A
second run on a workdir that is in use is refused before it writes anything, naming the holder (its pid, host, start
time and command, which the holder writes into the file). In a multi-process (jax.distributed) run only process 0
takes it: the run's processes share the workdir, another run does not.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from typing import Iterator

from absl import logging

LOCK_FILE = 'run.lock'


class WorkdirBusy(RuntimeError):
  """The workdir is held by another run; the message (one line) names the workdir and its holder."""


def _holder(fd: int) -> str:
  os.lseek(fd, 0, os.SEEK_SET)
  text = os.read(fd, 65536).decode(errors='replace').strip()
  try:
    info = json.loads(text)
  except ValueError:
    return 'a run that has not yet written its name'
  started = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info.get('started', 0)))
  return f"pid {info.get('pid')} on {info.get('host')}, started {started}: {info.get('command')}"


def _lock(fd: int, workdir: str) -> None:
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    raise WorkdirBusy(f'{workdir} is in use by another run ({_holder(fd)}); wait for it to end, or use another '
                      '--workdir') from None
  except OSError as e:  # a file system without flock (some NFS and Lustre mounts)
    logging.warning('%s: cannot lock %s (%s): nothing stops a second run on this workdir', workdir, LOCK_FILE, e)


@contextlib.contextmanager
def hold(workdir: str, lead: bool = True) -> Iterator[None]:
  """Holds `workdir`'s lock for the block (a no-op unless `lead`, the run's process 0); WorkdirBusy if another run
  holds it. Creates the workdir; if the block fails on a workdir it created, removes the lock file and the workdir
  again when nothing else was written (bad input leaves nothing behind)."""
  if not lead:
    yield
    return
  created = not os.path.exists(workdir)
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    _lock(fd, workdir)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps({'pid': os.getpid(), 'host': socket.gethostname(), 'started': time.time(),
                             'command': ' '.join(sys.argv)}).encode())
    yield
  except BaseException:
    if created and os.listdir(workdir) == [LOCK_FILE]:
      os.remove(path)
      os.rmdir(workdir)
    raise
  finally:
    os.close(fd)  # closing the file releases the lock
