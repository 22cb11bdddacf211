"""One or several sweep files in one queue: plan each (plan), run the runs they need once (local), then
write each file's report (report) and plots (plots).

With one sweep file its results go to DIR; with several, each file's results go to DIR/<sweep name>/. The runs go to
`runs_dir` when it is given, else to the sweep file's RUNS_DIR (unless a base config other than its BASE is given:
RUNS_DIR holds runs of the file's BASE), else to DIR (one file) or DIR/runs (several), so a run two files share runs
once. The queue goes seed by seed (every point's first seed, then every point's second...), so that a queue stopped part
way leaves complete pairs for the contrasts.
"""
from __future__ import annotations

import os

from experiments.sweep import local
from experiments.sweep import plan
from experiments.sweep import plots
from experiments.sweep import report
from experiments.sweep import sweep_file


def same_base(path: str, base: str) -> bool:
  """Whether a --base path names the sweep file's own BASE (a RUNS_DIR holds runs of that config only)."""
  return os.path.realpath(os.path.join(sweep_file.REPO, path)) == os.path.realpath(os.path.join(sweep_file.REPO, base))


def plan_files(paths: list[str], workdir: str, base_path: str, schedule: str, runs_dir: str, seeds: int) -> list:
  """(module, base config path, results dir, runs) of every sweep file."""
  sweeps = []
  for path in paths:
    module = sweep_file.load(path)
    config_path = base_path or module.BASE
    out = workdir if len(paths) == 1 else os.path.join(workdir, os.path.splitext(os.path.basename(path))[0])
    own = sweep_file.setting(module, 'RUNS_DIR') if same_base(config_path, module.BASE) else None
    into = runs_dir or own or (workdir if len(paths) == 1 else os.path.join(workdir, 'runs'))
    runs = plan.plan(module, sweep_file.load_config(config_path), schedule, into, seeds)
    sweeps.append((module, config_path, out, runs))
  return sweeps


def list_runs(queue: dict) -> None:
  for run, config_path in queue.values():
    problem = plan.check_reusable(run)
    state = 'finished' if local.finished(run) else f'refused: {problem}' if problem else 'to run'
    print(f"{run.workdir}  [{state}]  {' '.join(plan.command(run, config_path)[3:])}")


def run_sweep(sweep_paths: str, workdir: str, base_path: str = '', schedule: str = 'short', runs_dir: str = '',
              jobs: int = 1, dry_run: bool = False, tail_lines: int = 20, seeds: int = 0, launcher: str = 'local',
              slurm: tuple[str, ...] = ()) -> tuple[list[plan.Run], list[plan.Run]]:
  """Plans, runs and reports one sweep file, or several (comma-separated) in one queue; returns (runs, failed runs).
  With `dry_run`, lists the runs and their commands and runs nothing. `launcher`: 'local' (processes here, `jobs` at
  a time) or 'slurm' (a job per run, with the resources of slurm_jobs.resources: the first file's SLURM dict, then
  the `slurm` key=value overrides)."""
  paths = [p for p in sweep_paths.split(',') if p]
  sweeps = plan_files(paths, workdir, base_path, schedule, runs_dir, seeds)
  queue = {}
  for _, config_path, _, runs in sweeps:
    for run in runs:
      queue.setdefault(run.workdir, (run, config_path))
  queue = dict(sorted(queue.items(), key=lambda item: item[1][0].seed))  # stable: the files' order within a seed.
  job = None
  if launcher == 'slurm':
    from experiments.sweep import slurm_jobs  # pylint: disable=g-import-not-at-top
    job = slurm_jobs.resources(sweeps[0][0], list(slurm))
  if dry_run:
    list_runs(queue)
    if job is not None:
      print(f"each run to run: one SLURM job ({', '.join(f'{k}={v}' for k, v in job.items() if v != '')})")
    return [r for r, _ in queue.values()], []
  if job is not None:
    failed = slurm_jobs.execute(list(queue.values()), job, tail_lines)
  else:
    failed = local.execute(list(queue.values()), jobs, tail_lines)
  for module, _, out, runs in sweeps:
    os.makedirs(out, exist_ok=True)
    rows = report.report(module, runs, out)
    if rows:
      plots.plot(rows, runs, out, report.sweep_title(module), report.train_error_targets(module))
    print(f'{len(rows)} of {len(runs)} runs finished; results in {out}/results.md', flush=True)
  return [r for r, _ in queue.values()], failed
