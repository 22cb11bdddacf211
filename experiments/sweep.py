"""Runs a sweep: one `python -m alexnet.main` process and workdir per run, then tables and plots of the results.

  python -m experiments.sweep --sweep=experiments/sweeps/<name>.py --workdir=DIR [--jobs=N] [--dry_run]
                              [--base=configs/<other>.py] [--schedule=short|full] [--runs_dir=DIR2] [--seeds=N]
  python -m experiments.sweep --sweep=experiments/sweeps/lrn.py,experiments/sweeps/pooling.py --workdir=DIR

Several sweep files (comma-separated) run in one queue; each one's results go to DIR/<sweep name>/.

A sweep file (experiments/sweeps/*.py) defines `BASE` (a config file) and `get_hyper(h, base)`, which returns the
points as config overrides built with experiments/hyper.py (`h.product`, `h.sweep`, `h.zipit`, ...); `base` is the
base config, so a point may be derived from it (the half-width net halves the base's widths). A point's `config.seed`
values are its seeds; everything else identifies the point.

- Each run goes to `<runs_dir>/<slug>/`, the slug being the fields that differ from the base config plus the seed
  (`lrn=none,seed=1`; the base itself is `base,seed=0`), so several sweeps sharing a runs_dir run a common point once.
- A run whose summary.json exists is skipped; an interrupted one resumes from its checkpoints; a failed one is reported
  with its log's last lines and the sweep goes on, exiting non-zero at the end. A runs_dir entry made from a different
  config is refused, never silently reused.
- `--schedule=short` (default) applies the sweep file's `SHORT` overrides (a schedule sized for this project's 2-core
  CPU machine); `full` runs the base config's own schedule (GPU hosts).
- `--jobs=N` runs N at once, each on its own share of this machine's accelerators (one GPU per job) or CPU cores.

Writes DIR/results.csv (a row per run, with the commit it ran at), DIR/results.md (a row per point: mean +- std over
seeds, n, and its contrast with the reference point paired by seed: mean difference, 95% interval, p values, minimum
detectable effect), DIR/test_error.png, DIR/minival_curves.png, DIR/train_curves.png. The study's table, adjusted
across questions and with verdicts, is experiments/study.py's.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Any

from absl import app
from absl import flags
from absl import logging
import ml_collections
import numpy as np

from configs import imagenet
from experiments import hyper
from experiments import runs as runs_lib
from experiments import stats
from experiments import study
from experiments import sweep_files
from experiments.sweep_files import REPO, load_config, load_module


# ------------------------------------------------------------------------------------------------------- planning

@dataclasses.dataclass
class Run:
  point: str                 # the point's label, else the fields that differ from the base ('base' when none).
  seed: int
  diff: dict[str, Any]       # field -> value, the fields that differ from the base, seed excluded.
  overrides: dict[str, Any]  # field -> value, everything passed on the command line.
  config: ml_collections.ConfigDict
  workdir: str

  @property
  def slug(self) -> str:
    return os.path.basename(self.workdir)


def _fmt(value: Any) -> str:
  if isinstance(value, (tuple, list)):
    return '-'.join(_fmt(v) for v in value)
  return f'{value:g}' if isinstance(value, float) else str(value)


def _flag_value(value: Any) -> str:
  """How config_flags reads a value back: tuples as '(a,b)', floats by repr, the rest by str."""
  if isinstance(value, (tuple, list)):
    return '(' + ','.join(_flag_value(v) for v in value) + (',)' if len(value) == 1 else ')')
  return repr(value) if isinstance(value, float) else str(value)


def point_slug(diff: dict[str, Any]) -> str:
  """The fields that differ from the base, as a folder name ('base' when none); long ones end in a hash."""
  slug = re.sub(r'[^A-Za-z0-9=,._-]', '_', ','.join(f'{k}={_fmt(v)}' for k, v in sorted(diff.items())) or 'base')
  return slug if len(slug) <= 110 else f'{slug[:90]}-{hashlib.md5(slug.encode()).hexdigest()[:8]}'


def slugify(diff: dict[str, Any], seed: int) -> str:
  return f'{point_slug(diff)},seed={seed}'


def _as_json(config: ml_collections.ConfigDict) -> dict:
  return json.loads(config.to_json_best_effort())


def plan(module, base: ml_collections.ConfigDict, schedule: str, runs_dir: str, seeds: int = 0) -> list[Run]:
  """The sweep's runs: each point's overrides on top of the schedule's, resolved against the base config; with
  `seeds` > 0, only the runs of the sweep's first `seeds` seeds."""
  common = dict(getattr(module, 'SHORT', {})) if schedule == 'short' else {}
  reference = base.copy_and_resolve_references()
  with reference.unlocked():
    reference.update(common)
  reference_json = _as_json(reference)
  runs, seen = [], set()
  for point in module.get_hyper(hyper, base.copy_and_resolve_references()):
    point = dict(point)
    label = point.pop(hyper.LABEL, None)
    overrides = dict(common)
    for key, value in point.items():
      overrides[key[len(hyper.PREFIX):]] = value
    config = reference.copy_and_resolve_references()
    for field, value in overrides.items():
      if field not in config:
        raise ValueError(f'the sweep sets config.{field}, which the base config does not have')
      setattr(config, field, tuple(value) if isinstance(value, list) else value)
    resolved = _as_json(config)
    diff = {k: getattr(config, k) for k in resolved if k != 'seed' and resolved[k] != reference_json[k]}
    run = Run(label or point_slug(diff), config.seed, diff, overrides, config,
              os.path.join(runs_dir, slugify(diff, config.seed)))
    if run.slug in seen:
      raise ValueError(f'two points of the sweep resolve to the same run {run.slug}')
    seen.add(run.slug)
    runs.append(run)
  if seeds > 0:
    kept = list(dict.fromkeys(r.seed for r in runs))[:seeds]
    runs = [r for r in runs if r.seed in kept]
  return runs


def command(run: Run, base_path: str) -> list[str]:
  return [sys.executable, '-m', 'alexnet.main', f'--config={base_path}', f'--workdir={run.workdir}'] + [
      f'--config.{k}={_flag_value(v)}' for k, v in run.overrides.items()]


def check_reusable(run: Run) -> str | None:
  """None when the run's workdir is new or was made from the same config (where it ran aside, and fields added since
  at their defaults: validation.differing_fields); else why not."""
  from alexnet import validation  # pylint: disable=g-import-not-at-top
  path = os.path.join(run.workdir, 'config.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    existing = json.load(f)
  differing = validation.differing_fields(existing, run.config, validation.EXECUTION_FIELDS, imagenet.get_config())
  if differing:
    return f'{run.workdir} holds a run of another config (fields {differing}); remove it or use another --runs_dir'
  return None


# ------------------------------------------------------------------------------------------------------ executing

def _gpus() -> list[str]:
  if os.environ.get('CUDA_VISIBLE_DEVICES'):
    return [g for g in os.environ['CUDA_VISIBLE_DEVICES'].split(',') if g]
  if not shutil.which('nvidia-smi'):
    return []
  out = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True, check=False).stdout
  return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith('GPU ')]


def slots(jobs: int) -> list[tuple[dict[str, str], set[int] | None]]:
  """(environment, CPU affinity) for each job: disjoint GPUs where there are any, else disjoint CPU cores."""
  gpus = _gpus()
  if gpus:
    if jobs > len(gpus):
      raise ValueError(f'--jobs={jobs} but {len(gpus)} GPUs')
    share = len(gpus) // jobs
    return [({'CUDA_VISIBLE_DEVICES': ','.join(gpus[i * share:(i + 1) * share])}, None) for i in range(jobs)]
  cores = sorted(os.sched_getaffinity(0))
  if jobs > len(cores):
    raise ValueError(f'--jobs={jobs} but {len(cores)} CPU cores')
  share = len(cores) // jobs
  return [({}, set(cores[i * share:(i + 1) * share])) for i in range(jobs)]


def _tail(path: str, lines: int) -> str:
  with open(path, errors='replace') as f:
    return ''.join(f.readlines()[-lines:])


def _duration(seconds: float) -> str:
  m, s = divmod(int(seconds), 60)
  h, m = divmod(m, 60)
  return f'{h}h{m:02d}m' if h else f'{m}m{s:02d}s'


def execute(queue: list[tuple[Run, str]], jobs: int, tail_lines: int) -> list[Run]:
  """Runs (run, base config path) pairs that are not finished, `jobs` at a time; returns the runs that failed."""
  runs = [r for r, _ in queue]
  todo = [(r, p) for r, p in queue if not os.path.exists(os.path.join(r.workdir, 'summary.json'))]
  print(f'{len(runs)} runs: {len(runs) - len(todo)} finished before, {len(todo)} to run, {jobs} at a time', flush=True)
  free = slots(jobs)
  running: dict[subprocess.Popen, tuple[Run, tuple, float]] = {}
  failed, durations, done = [], [], 0
  try:
    while todo or running:
      while todo and free:
        (run, base_path), slot = todo.pop(0), free.pop(0)
        problem = check_reusable(run)
        if problem:
          print(f'FAILED {run.slug}: {problem}', flush=True)
          failed.append(run)
          free.append(slot)
          continue
        os.makedirs(run.workdir, exist_ok=True)
        with open(os.path.join(run.workdir, 'command.sh'), 'w') as f:
          f.write(' '.join(f"'{a}'" if any(c in a for c in ' (),') else a for a in command(run, base_path)) + '\n')
        env, cores = slot
        log = open(os.path.join(run.workdir, 'log.txt'), 'a')  # pylint: disable=consider-using-with
        preexec = (lambda cores=cores: os.sched_setaffinity(0, cores)) if cores else None
        proc = subprocess.Popen(command(run, base_path), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                env=os.environ | env, preexec_fn=preexec)
        log.close()
        running[proc] = (run, slot, time.time())
      time.sleep(0.5)
      for proc in [p for p in running if p.poll() is not None]:
        run, slot, start = running.pop(proc)
        free.append(slot)
        done += 1
        if proc.returncode == 0 and os.path.exists(os.path.join(run.workdir, 'summary.json')):
          durations.append(time.time() - start)
          status = f'done {run.slug} in {_duration(durations[-1])}'
        else:
          failed.append(run)
          status = (f'FAILED {run.slug} (exit {proc.returncode}); last lines of {run.workdir}/log.txt:\n'
                    + _tail(os.path.join(run.workdir, 'log.txt'), tail_lines))
        left = len(todo) + len(running)
        eta = (f', ETA {_duration(np.mean(durations) * (len(todo) + len(running) / 2) / jobs)}'
               if durations and left else '')
        print(f'[{done} done | {len(running)} running | {len(todo)} left{eta}] {status}', flush=True)
  except KeyboardInterrupt:
    print('Interrupted: waiting for the running points to save a checkpoint (they resume on the next call).',
          flush=True)
    for proc in running:
      proc.wait()
    raise
  return failed


# ------------------------------------------------------------------------------------------------------- results

def steps_to(target: float, steps: np.ndarray, errors: np.ndarray) -> int | None:
  """The first logged step at which the training error (mean over the logging window) is at or below `target`."""
  hits = np.nonzero(errors <= target)[0]
  return int(steps[hits[0]]) if len(hits) else None


def collect(runs: list[Run], train_error_target: float | None) -> list[dict]:
  """A row per finished run."""
  rows = []
  swept = list(dict.fromkeys(k for run in runs for k in run.diff))
  for run in runs:
    summary = runs_lib.summary(run.workdir)
    if summary is None:
      continue
    row = {'run': run.slug, 'point': run.point, **{k: _fmt(run.config[k]) for k in swept}, 'seed': run.seed,
           'minival_top1_error': summary.get('minival_top1_error'),
           'minival_top5_error': summary.get('minival_top5_error'),
           'test_top1_error': summary['top1_error'], 'test_top5_error': summary['top5_error'],
           'steps': summary['step'], 'epochs': summary['epoch'],
           'images_per_sec': summary['train_images_per_sec'], 'wall_seconds': summary.get('wall_seconds'),
           'commit': summary.get('commit'), 'dirty': summary.get('dirty')}
    curve = runs_lib.train_curve(run.workdir)
    row['train_top1_error_mean'] = float(np.mean(curve[1])) if len(curve[1]) else None  # area under the curve.
    # The training error at the end (the last 5 logged windows; dropout and augmentation on): against minival, it
    # shows whether an arm overfits.
    row['train_top1_error_end'] = float(np.mean(curve[1][-5:])) if len(curve[1]) else None
    if train_error_target is not None:
      row[f'steps_to_{train_error_target:g}_train_error'] = steps_to(train_error_target, *curve)
    rows.append(row)
  return rows


def _mean_std(values) -> tuple[float, float, int]:
  values = [v for v in values if v is not None]
  if not values:
    return math.nan, math.nan, 0
  return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else math.nan, len(values)


def _pm(values, scale: float = 100.0, digits: int = 2) -> str:
  mean, std, n = _mean_std(values)
  if n == 0:
    return '-'
  return f'{mean * scale:.{digits}f}' + ('' if math.isnan(std) else f' ± {std * scale:.{digits}f}')


def points_in_order(rows: list[dict]) -> list[str]:
  return list(dict.fromkeys(r['point'] for r in rows))


def write_csv(rows: list[dict], path: str) -> None:
  fields = list(dict.fromkeys(k for r in rows for k in r))
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)


def paired_columns(module, rows: list[dict]) -> dict[str, list[str]]:
  """Per point: the contrast with the reference in the sweep's metric, paired by seed (experiments/stats): n pairs,
  mean Δ [95% CI], paired-t p, exact sign-flip p, and the MDE at 0.05 with 80% power (unadjusted; the study's table
  adjusts across questions)."""
  out = {}
  for c in study.contrasts(getattr(module, '__name__', ''), module, rows):
    mean, low, high, p = c.t_test()
    _, units = study.metric_units(c.metric)
    digits = 0 if units == 'steps' else 2
    interval = '' if math.isnan(low) else f' [{low:+.{digits}f}, {high:+.{digits}f}]'
    minimum = stats.mde(c.sd, c.n)
    out[c.point] = [str(c.n), '-' if math.isnan(mean) else f'{mean:+.{digits}f}{interval}', study.format_p(p),
                    study.format_p(c.sign_flip() if c.n else math.nan),
                    '-' if math.isnan(minimum) else f'{minimum:.{digits}f}']
  return out


def markdown(rows: list[dict], module, title: str, note: str = '') -> str:
  """A row per point: n, minival and test errors (mean ± std over seeds, in %), and the contrast with the reference
  point, paired by seed, in the sweep's metric (`paired_columns`)."""
  reference = getattr(module, 'REFERENCE', None)
  metric = sweep_files.metric(module)
  by_point = {p: [r for r in rows if r['point'] == p] for p in points_in_order(rows)}
  extra = [k for k in (rows[0] if rows else {}) if k.startswith('steps_to_')]
  paired = paired_columns(module, rows) if reference in by_point else {}
  units = study.metric_units(metric)[1]
  head = ['point', 'n', 'train top-1 % (end)', 'minival top-1 %', 'test top-1 %', 'test top-5 %']
  head += [k.replace('_', ' ') for k in extra]
  head += ['pairs', f'Δ {metric} vs {reference} ({units}) [95% CI]', 'p (paired t)', 'p (sign-flip)',
           'MDE (0.05, 80%)', 'img/s', 'min/run']
  lines = [f'## {title}', '', note, ''] if note else [f'## {title}', '']
  lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for point, group in by_point.items():
    cells = [point, str(len(group)), _pm([r.get('train_top1_error_end') for r in group]),
             _pm([r['minival_top1_error'] for r in group]),
             _pm([r['test_top1_error'] for r in group]), _pm([r['test_top5_error'] for r in group])]
    for k in extra:
      reached = [r[k] for r in group if r[k] is not None]
      cells.append(_pm(reached, scale=1, digits=0) + ('' if len(reached) == len(group) else
                                                      f' ({len(group) - len(reached)} never)'))
    cells += paired.get(point, ['-'] * 5)
    cells += [f"{np.mean([r['images_per_sec'] for r in group]):.0f}",
              f"{np.mean([r['wall_seconds'] or 0 for r in group]) / 60:.1f}"]
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def plot(rows: list[dict], runs: list[Run], workdir: str, title: str) -> list[str]:
  """test_error.png (bars: mean, whiskers: std, dots: seeds), minival_curves.png and train_curves.png (means over
  seeds, shaded ± std)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  points = points_in_order(rows)
  paths = []

  fig, ax = plt.subplots(figsize=(7, 0.5 * len(points) + 1.5))
  for i, p in enumerate(points):
    errors = [100 * r['test_top1_error'] for r in rows if r['point'] == p]
    mean, std, _ = _mean_std(errors)
    ax.barh(i, mean, xerr=0 if math.isnan(std) else std, color='C0', alpha=0.6, capsize=4)
    ax.plot(errors, [i] * len(errors), 'k.', ms=5)
  ax.set_yticks(range(len(points)), points, fontsize=8)
  ax.invert_yaxis()
  lo = min(100 * r['test_top1_error'] for r in rows)
  ax.set(xlabel='test top-1 error (%)', xlim=(max(0.0, lo * 0.8), None))
  ax.set_title(f'{title}: test error, mean ± std over seeds (dots: seeds)', fontsize=9)
  fig.tight_layout()
  paths.append(os.path.join(workdir, 'test_error.png'))
  fig.savefig(paths[-1], dpi=90)
  plt.close(fig)

  finished = {r['run'] for r in rows}
  for name, curve_of, ylabel in (
      ('minival_curves.png', runs_lib.minival_curve, 'minival top-1 error (%)'),
      ('train_curves.png', runs_lib.train_curve, 'training top-1 error (%), mean over each logging window')):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, p in enumerate(points):
      curves = [curve_of(r.workdir) for r in runs if r.point == p and r.slug in finished]
      curves = [c for c in curves if len(c[0])]
      if not curves:
        continue
      n = min(len(c[0]) for c in curves)
      values = 100 * np.stack([c[1][:n] for c in curves])
      mean, std = values.mean(0), values.std(0)
      ax.plot(curves[0][0][:n], mean, '-o' if n < 12 else '-', ms=3, color=f'C{i % 10}', label=f'{p} (n={len(curves)})')
      if len(curves) > 1:
        ax.fill_between(curves[0][0][:n], mean - std, mean + std, color=f'C{i % 10}', alpha=0.15)
    ax.set(xlabel='step', ylabel=ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(os.path.join(workdir, name))
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
  return paths


def report(module, runs: list[Run], workdir: str) -> list[dict]:
  target = getattr(module, 'TRAIN_ERROR_TARGET', None)
  rows = collect(runs, target)
  if not rows:
    return rows
  title = getattr(module, 'TITLE', os.path.basename(module.__file__))
  write_csv(rows, os.path.join(workdir, 'results.csv'))
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write(markdown(rows, module, title, getattr(module, 'PAPER', '')))
  plot(rows, runs, workdir, title)
  return rows


def run_sweep(sweep_paths: str, workdir: str, base_path: str = '', schedule: str = 'short', runs_dir: str = '',
              jobs: int = 1, dry_run: bool = False, tail_lines: int = 20, seeds: int = 0
              ) -> tuple[list[Run], list[Run]]:
  """Plans, runs and reports one sweep file, or several (comma-separated) in one queue with their results in
  DIR/<sweep name>/ and a run they share run once; returns (runs, failed runs)."""
  paths = [p for p in sweep_paths.split(',') if p]
  runs_dir = runs_dir or (workdir if len(paths) == 1 else os.path.join(workdir, 'runs'))
  sweeps = []
  for path in paths:
    module = load_module(path)
    config_path = base_path or module.BASE
    out = workdir if len(paths) == 1 else os.path.join(workdir, os.path.splitext(os.path.basename(path))[0])
    sweeps.append((module, config_path, out, plan(module, load_config(config_path), schedule, runs_dir, seeds)))
  queue = {}
  for _, config_path, _, runs in sweeps:
    for run in runs:
      queue.setdefault(run.workdir, (run, config_path))
  if dry_run:
    for run, config_path in queue.values():
      state = 'finished' if os.path.exists(os.path.join(run.workdir, 'summary.json')) else 'to run'
      print(f"{run.workdir}  [{state}]  {' '.join(command(run, config_path)[3:])}")
    return [r for r, _ in queue.values()], []
  failed = execute(list(queue.values()), jobs, tail_lines)
  for module, _, out, runs in sweeps:
    os.makedirs(out, exist_ok=True)
    rows = report(module, runs, out)
    print(f'{len(rows)} of {len(runs)} runs finished; results in {out}/results.md', flush=True)
  return [r for r, _ in queue.values()], failed


def define_flags():
  """The CLI's flags; only when this module is the program (compare.py imports it and has its own)."""
  flags.DEFINE_string('sweep', None, 'A sweep file, experiments/sweeps/<name>.py, or several, comma-separated.')
  flags.DEFINE_string('workdir', None, 'Where results.csv, results.md and the plots go (and the runs, unless '
                      '--runs_dir).')
  flags.DEFINE_string('base', '', "Base config file; default: the sweep file's BASE.")
  flags.DEFINE_enum('schedule', 'short', ['short', 'full'], "'short': the sweep's SHORT overrides; 'full': the base's.")
  flags.DEFINE_string('runs_dir', '', 'Where the runs go (default: --workdir, or DIR/runs for several sweeps); sweeps '
                      'may share one.')
  flags.DEFINE_integer('jobs', 1, 'Runs at once, splitting the GPUs (one or more per job) or the CPU cores.')
  flags.DEFINE_bool('dry_run', False, 'List the runs and their workdirs; run nothing.')
  flags.DEFINE_integer('tail_lines', 20, "Lines of a failed run's log to show.")
  flags.DEFINE_integer('seeds', 0, "Only the sweep's first N seeds (a quick look; a finding needs >= 3); 0: all.")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # TensorBoard's event reader logs every file it opens.
  f = flags.FLAGS
  _, failed = run_sweep(f.sweep, f.workdir, f.base, f.schedule, f.runs_dir, f.jobs, f.dry_run, f.tail_lines,
                        f.seeds)
  if failed:
    print(f"{len(failed)} runs failed: {', '.join(r.slug for r in failed)}", flush=True)
    sys.exit(1)


if __name__ == '__main__':
  define_flags()
  flags.mark_flags_as_required(['sweep', 'workdir'])
  app.run(main)
