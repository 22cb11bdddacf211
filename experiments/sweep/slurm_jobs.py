"""A sweep's runs as SLURM jobs, through submitit: one job per unfinished run, running the command the local launcher
runs (local), with the same semantics: a finished run is skipped, a workdir of another config refused, a
failed job reported with its log's path and last lines, the report written from the same workdirs.

Resources per job: SLURM_RESOURCES below, then the sweep file's `SLURM` dict, then `--slurm=key=value,...` on the
command line. A status line is printed whenever the jobs' states change (squeue's: without SLURM accounting
submitit reads every state as UNKNOWN, and its sacct warnings are silenced). A job that leaves the queue without a
result (cancelled, killed) is reported as failed, never waited for.
"""
from __future__ import annotations

import collections
import logging
import os
import subprocess
import time

import submitit

from experiments.sweep import local
from experiments.sweep import plan
from experiments.sweep import sweep_file

SLURM_RESOURCES = {'cpus_per_task': 1, 'gpus_per_node': 0, 'timeout_min': 60, 'mem_gb': 4, 'partition': ''}


def resources(module, overrides: list[str]) -> dict:
  """The job resources: the defaults, the sweep file's SLURM dict, then `key=value` overrides; an unknown key or a
  value of the wrong type is a SweepFileError (one line)."""
  out = dict(SLURM_RESOURCES)
  given = dict(sweep_file.setting(module, 'SLURM'))
  for item in overrides:
    key, _, value = item.partition('=')
    given[key] = value
  for key, value in given.items():
    if key not in SLURM_RESOURCES:
      raise sweep_file.SweepFileError(f"unknown SLURM resource '{key}'; the resources are "
                                       f"{', '.join(SLURM_RESOURCES)}")
    kind = type(SLURM_RESOURCES[key])
    try:
      out[key] = kind(value)
    except ValueError:
      raise sweep_file.SweepFileError(f'SLURM resource {key}={value!r} is not {kind.__name__}') from None
  return out


def _executor(run: plan.Run, job: dict) -> submitit.AutoExecutor:
  executor = submitit.AutoExecutor(folder=os.path.join(run.workdir, 'slurm'), cluster='slurm')
  executor.update_parameters(name=f'sweep:{run.slug}'[:100], nodes=1, tasks_per_node=1,
                             cpus_per_task=job['cpus_per_task'], gpus_per_node=job['gpus_per_node'],
                             timeout_min=job['timeout_min'], mem_gb=job['mem_gb'],
                             **({'slurm_partition': job['partition']} if job['partition'] else {}))
  return executor


def submit(run: plan.Run, base_path: str, job: dict) -> submitit.Job:
  """Writes the run's command.sh and submits the command as one job; its output goes to the job's log."""
  args = local.write_command(run, base_path)
  return _executor(run, job).submit(submitit.helpers.CommandFunction(args, cwd=sweep_file.REPO))


def queue_states(job_ids: list[str]) -> dict[str, str] | None:
  """{job id: state} of the jobs still in SLURM's queue (PENDING, RUNNING, ...); None when squeue did not answer."""
  result = subprocess.run(['squeue', '-h', '-o', '%i %T', '-j', ','.join(job_ids)], capture_output=True, text=True,
                          check=False, timeout=60)
  if result.returncode != 0:
    return None
  return dict(line.split() for line in result.stdout.splitlines() if len(line.split()) == 2)


def _wait(jobs: dict, poll_seconds: float, grace_seconds: float) -> dict:
  """Waits for every job; {job: None when it finished with a result, else why not}. Prints a status line when the
  counts change."""
  outcome, gone_since, last = {}, {}, None
  while len(outcome) < len(jobs):
    states = queue_states([j.job_id for j in jobs if j not in outcome])
    if states is None:  # squeue did not answer this time: read nothing into it.
      time.sleep(poll_seconds)
      continue
    for job in [j for j in jobs if j not in outcome]:
      if job.done():
        outcome[job] = None
      elif job.job_id not in states:  # out of the queue and no result yet: give the result file a moment.
        if time.time() - gone_since.setdefault(job, time.time()) > grace_seconds:
          outcome[job] = 'the job left the queue without a result (cancelled or killed)'
    counts = collections.Counter(states.get(j.job_id, 'DONE') for j in jobs if j not in outcome)
    line = (f"[slurm: {len(outcome)} of {len(jobs)} ended | "
            + ', '.join(f'{n} {s.lower()}' for s, n in sorted(counts.items())) + ']')
    if line != last:
      print(line, flush=True)
      last = line
    if len(outcome) < len(jobs):
      time.sleep(poll_seconds)
  return outcome


def execute(queue: list[tuple[plan.Run, str]], job: dict, tail_lines: int, poll_seconds: float = 2.0,
            grace_seconds: float = 30.0) -> list[plan.Run]:
  """Submits the unfinished runs of `queue` (run, base config path) as SLURM jobs and waits for them; returns the
  runs that failed."""
  logging.getLogger('submitit').setLevel(logging.ERROR)  # "Bypassing sacct error" on every poll without accounting
  todo = [(r, p) for r, p in queue if not local.finished(r)]
  print(f'{len(queue)} runs: {len(queue) - len(todo)} finished before, {len(todo)} to submit to SLURM '
        f"({', '.join(f'{k}={v}' for k, v in job.items() if v != '')} a job)", flush=True)
  failed, jobs = [], {}
  for run, base_path in todo:
    problem = plan.check_reusable(run)
    if problem:
      print(f'FAILED {run.slug}: {problem}', flush=True)
      failed.append(run)
      continue
    jobs[submit(run, base_path, job)] = run
  for submitted, why in _wait(jobs, poll_seconds, grace_seconds).items():
    run = jobs[submitted]
    if why is None:
      why = None if local.finished(run) else 'it ended without a summary.json'
      if submitted.exception() is not None:
        why = f'exit status non-zero ({type(submitted.exception()).__name__})'
    if why is None:
      print(f'done {run.slug} (job {submitted.job_id})', flush=True)
      continue
    failed.append(run)
    log = str(submitted.paths.stderr)
    print(f'FAILED {run.slug} (job {submitted.job_id}): {why}; its log: {log}\n'
          + (local.tail(log, tail_lines) if os.path.exists(log) else ''), flush=True)
  return failed
