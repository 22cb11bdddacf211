"""A sweep's execution: one `python -m alexnet.main` process per unfinished run, `jobs` at a time, each on its own
share of this machine's accelerators (one GPU or more per job) or CPU cores.

A run whose summary.json exists is skipped; an interrupted one resumes from its checkpoints (the same command); a
failed one is reported with its log's last lines and the queue goes on. A workdir made from a different config is
refused, never silently reused (plan.check_reusable).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time

import numpy as np

from alexnet import run_summary
from experiments.sweep import plan
from experiments.sweep import sweep_file


def finished(run: plan.Run) -> bool:
  """The run's summary.json exists and its workdir holds a run of the planned config (plan.check_reusable);
  a finished run of another config is not this run: it is refused when its turn comes."""
  return os.path.exists(os.path.join(run.workdir, run_summary.FILENAME)) and plan.check_reusable(run) is None


def gpus() -> list[str]:
  """This machine's GPUs as CUDA_VISIBLE_DEVICES names them (the variable's own list when it is set)."""
  if os.environ.get('CUDA_VISIBLE_DEVICES'):
    return [g for g in os.environ['CUDA_VISIBLE_DEVICES'].split(',') if g]
  if not shutil.which('nvidia-smi'):
    return []
  out = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True, check=False).stdout
  return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith('GPU ')]


def slots(jobs: int) -> list[tuple[dict[str, str], set[int] | None]]:
  """(environment, CPU affinity) for each job: disjoint GPUs where there are any, else disjoint CPU cores."""
  visible = gpus()
  if visible:
    if jobs > len(visible):
      raise ValueError(f'--jobs={jobs} but {len(visible)} GPUs')
    share = len(visible) // jobs
    return [({'CUDA_VISIBLE_DEVICES': ','.join(visible[i * share:(i + 1) * share])}, None) for i in range(jobs)]
  cores = sorted(os.sched_getaffinity(0))
  if jobs > len(cores):
    raise ValueError(f'--jobs={jobs} but {len(cores)} CPU cores')
  share = len(cores) // jobs
  return [({}, set(cores[i * share:(i + 1) * share])) for i in range(jobs)]


def tail(path: str, lines: int) -> str:
  with open(path, errors='replace') as f:
    return ''.join(f.readlines()[-lines:])


def duration(seconds: float) -> str:
  m, s = divmod(int(seconds), 60)
  h, m = divmod(m, 60)
  return f'{h}h{m:02d}m' if h else f'{m}m{s:02d}s'


def shell_line(args: list[str]) -> str:
  """The command as command.sh records it, free of this machine's paths: `python` for the interpreter, paths inside
  the repository relative to it (arguments with spaces, parentheses or commas quoted)."""
  root = sweep_file.REPO + os.sep
  portable = ['python'] + [a.replace(root, '') for a in args[1:]]
  return ' '.join(f"'{a}'" if any(c in a for c in ' (),') else a for a in portable) + '\n'


def write_command(run: plan.Run, base_path: str) -> list[str]:
  """The run's command (creating its workdir and recording the command in its command.sh)."""
  os.makedirs(run.workdir, exist_ok=True)
  args = plan.command(run, base_path)
  with open(os.path.join(run.workdir, 'command.sh'), 'w') as f:
    f.write(shell_line(args))
  return args


def start(run: plan.Run, base_path: str, slot) -> subprocess.Popen:
  """Writes the run's command.sh and starts it in its slot, its output appended to its log.txt."""
  args = write_command(run, base_path)
  env, cores = slot
  preexec = (lambda cores=cores: os.sched_setaffinity(0, cores)) if cores else None
  with open(os.path.join(run.workdir, 'log.txt'), 'a') as log:
    return subprocess.Popen(args, cwd=sweep_file.REPO, stdout=log, stderr=subprocess.STDOUT, env=os.environ | env,
                            preexec_fn=preexec)


@dataclasses.dataclass
class _Queue:
  todo: list
  jobs: int
  tail_lines: int
  free: list
  running: dict = dataclasses.field(default_factory=dict)  # process -> (run, slot, start time)
  failed: list = dataclasses.field(default_factory=list)
  durations: list = dataclasses.field(default_factory=list)
  done: int = 0

  def fill(self) -> None:
    """Starts queued runs while slots are free; a run whose workdir cannot be reused fails at once."""
    while self.todo and self.free:
      (run, base_path), slot = self.todo.pop(0), self.free.pop(0)
      problem = plan.check_reusable(run)
      if problem:
        print(f'FAILED {run.slug}: {problem}', flush=True)
        self.failed.append(run)
        self.free.append(slot)
        continue
      self.running[start(run, base_path, slot)] = (run, slot, time.time())

  def reap(self) -> None:
    """Reports every run that ended since the last look, and frees its slot."""
    for proc in [p for p in self.running if p.poll() is not None]:
      run, slot, started = self.running.pop(proc)
      self.free.append(slot)
      self.done += 1
      if proc.returncode == 0 and finished(run):
        self.durations.append(time.time() - started)
        status = f'done {run.slug} in {duration(self.durations[-1])}'
      else:
        self.failed.append(run)
        status = (f'FAILED {run.slug} (exit {proc.returncode}); last lines of {run.workdir}/log.txt:\n'
                  + tail(os.path.join(run.workdir, 'log.txt'), self.tail_lines))
      left = len(self.todo) + len(self.running)
      eta = (f', ETA {duration(np.mean(self.durations) * (len(self.todo) + len(self.running) / 2) / self.jobs)}'
             if self.durations and left else '')
      print(f'[{self.done} done | {len(self.running)} running | {len(self.todo)} left{eta}] {status}', flush=True)


def execute(queue: list[tuple[plan.Run, str]], jobs: int, tail_lines: int) -> list[plan.Run]:
  """Runs (run, base config path) pairs that are not finished, `jobs` at a time; returns the runs that failed."""
  todo = [(r, p) for r, p in queue if not finished(r)]
  print(f'{len(queue)} runs: {len(queue) - len(todo)} finished before, {len(todo)} to run, {jobs} at a time',
        flush=True)
  state = _Queue(todo, jobs, tail_lines, slots(jobs))
  try:
    while state.todo or state.running:
      state.fill()
      time.sleep(0.5)
      state.reap()
  except KeyboardInterrupt:
    print('Interrupted: waiting for the running points to save a checkpoint (they resume on the next call).',
          flush=True)
    for proc in state.running:
      proc.wait()
    raise
  return state.failed
