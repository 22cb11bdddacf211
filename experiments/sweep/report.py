"""A sweep's report: results.csv (a row per finished run, with the commit it ran at) and results.md (a row per point:
mean ± std over seeds, n, and its contrast with the reference point paired by seed: mean difference, 95% interval, p
values, minimum detectable effect); the plots beside them are plots.py'. The study's table, adjusted across
questions and with verdicts, is the study's (experiments/study/table.py).
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np

from alexnet import records
from experiments.study import contrasts
from experiments.study import stats
from experiments.sweep import plan
from experiments.sweep import sweep_file


def steps_to(target: float, steps: np.ndarray, errors: np.ndarray) -> int | None:
  """The first logged step at which the training error (mean over the logging window) is at or below `target`."""
  hits = np.nonzero(errors <= target)[0]
  return int(steps[hits[0]]) if len(hits) else None


# The share of a run's logged training steps whose training error is compared with the share before it: the
# convergence check's late change (contrasts.convergence_check).
LATE_SHARE = 0.1


def late_change(steps: np.ndarray, errors: np.ndarray, share: float = LATE_SHARE) -> float | None:
  """The mean logged training error over the last `share` of the run's steps minus that over the `share` before it
  (a fraction; negative while the error still falls); None with too few logged windows to tell."""
  if len(steps) < 4:
    return None
  end = float(steps[-1])
  last, before = steps > end * (1 - share), (steps > end * (1 - 2 * share)) & (steps <= end * (1 - share))
  if not last.any() or not before.any():
    return None
  return float(errors[last].mean() - errors[before].mean())


def fixed_drops(config, summary: dict) -> list[dict]:
  """The drops a run on schedule='drops' made: those of config.drop_epochs it reached."""
  return [{'epoch': float(e)} for e in config.drop_epochs if e < summary['epoch']]


def row(run: plan.Run, summary: dict, swept: list[str], train_error_targets: tuple[float, ...] = (),
        early_steps: int = 0) -> dict:
  """A finished run's row of results.csv (its columns in this order)."""
  out = {'run': run.slug, 'point': run.point, **{k: plan.format_value(run.config[k]) for k in swept},
         'seed': run.seed, 'minival_top1_error': summary.get('minival_top1_error'),
         'minival_top5_error': summary.get('minival_top5_error'),
         'test_top1_error': summary['top1_error'], 'test_top5_error': summary['top5_error'],
         'steps': summary['step'], 'epochs': summary['epoch'],
         'images_per_sec': summary['train_images_per_sec'], 'wall_seconds': summary.get('wall_seconds'),
         'commit': summary.get('commit'), 'dirty': summary.get('dirty'), 'schedule': run.config.schedule}
  drops = []
  if run.config.schedule == 'plateau':
    drops = records.drops(summary)
  elif run.config.schedule == 'drops':
    drops = fixed_drops(run.config, summary)
  out['lr_drops'] = len(drops)
  if run.config.schedule == 'drops':
    out['drop_epochs'] = ', '.join(f'{e:g}' for e in run.config.drop_epochs)
  out['epochs_at_reduced_rate'] = summary['epoch'] - drops[0]['epoch'] if drops else 0.0
  out['end_reason'] = summary.get('end_reason', '')
  curve = records.train_curve(run.workdir)
  out['train_top1_error_mean'] = float(np.mean(curve[1])) if len(curve[1]) else None  # area under the curve.
  # The training error at the end (the last 5 logged windows; dropout and augmentation on): against minival, it
  # shows whether an arm overfits.
  out['train_top1_error_end'] = float(np.mean(curve[1][-5:])) if len(curve[1]) else None
  out['train_top1_error_late_change'] = late_change(*curve)
  if early_steps:  # the sweep file's EARLY_STEPS: the mean over the logged windows up to that step.
    early = curve[1][curve[0] <= early_steps]
    out[f'train_top1_error_to_{early_steps}'] = float(early.mean()) if len(early) else None
  for target in train_error_targets:
    reached = steps_to(target, *curve)
    out[f'steps_to_{target:g}_train_error'] = reached
    # Its log: a paired difference of logs is a ratio of steps, the paper's measure ("six times faster").
    out[f'log2_steps_to_{target:g}_train_error'] = math.log2(reached) if reached else None
  return out


def train_error_targets(module) -> tuple[float, ...]:
  """The training errors whose first crossing the rows record (TRAIN_ERROR_TARGET: one value or several)."""
  targets = sweep_file.setting(module, 'TRAIN_ERROR_TARGET')
  return tuple(targets) if isinstance(targets, (tuple, list)) else (targets,)


def collect(runs: list[plan.Run], train_error_targets: tuple[float, ...] = (), early_steps: int = 0) -> list[dict]:
  """A row per finished run."""
  swept = list(dict.fromkeys(k for run in runs for k in run.diff))
  rows = []
  for run in runs:
    summary = records.summary(run.workdir)
    if summary is not None and plan.check_reusable(run) is None:  # a run of another config is not this one.
      rows.append(row(run, summary, swept, train_error_targets, early_steps))
  return rows


def mean_std(values) -> tuple[float, float, int]:
  """(mean, sample std, n) of the values that are not None; NaN where undefined."""
  values = [v for v in values if v is not None]
  if not values:
    return math.nan, math.nan, 0
  return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else math.nan, len(values)


def _pm(values, scale: float = 100.0, digits: int = 2) -> str:
  mean, std, n = mean_std(values)
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
  for c in contrasts.contrasts(getattr(module, '__name__', ''), module, rows):
    mean, low, high, p = c.t_test()
    _, units = contrasts.metric_units(c.metric)
    digits = 0 if units == 'steps' else 2
    interval = '' if math.isnan(low) else f' [{low:+.{digits}f}, {high:+.{digits}f}]'
    minimum = stats.mde(c.sd, c.n)
    out[c.point] = [str(c.n), '-' if math.isnan(mean) else f'{mean:+.{digits}f}{interval}', contrasts.format_p(p),
                    contrasts.format_p(c.sign_flip() if c.n else math.nan),
                    '-' if math.isnan(minimum) else f'{minimum:.{digits}f}']
  return out


def _point_cells(point: str, group: list[dict], extra: list[str], paired: dict, contrasted: bool) -> list[str]:
  cells = [point, str(len(group)), _pm([r.get('train_top1_error_end') for r in group]),
           _pm([r['minival_top1_error'] for r in group]),
           _pm([r['test_top1_error'] for r in group]), _pm([r['test_top5_error'] for r in group])]
  for k in extra:
    reached = [r[k] for r in group if r[k] is not None]
    cells.append(_pm(reached, scale=1, digits=0) + ('' if len(reached) == len(group) else
                                                    f' ({len(group) - len(reached)} never)'))
  cells += paired.get(point, ['-'] * 5) if contrasted else []
  cells += [f"{np.mean([r['images_per_sec'] for r in group]):.0f}",
            f"{np.mean([r['wall_seconds'] or 0 for r in group]) / 60:.1f}"]
  return cells


def _mean_or_inf(values) -> float:
  """The mean; infinite when any value is missing (a training error never reached)."""
  return math.inf if any(v is None or v == '' for v in values) else float(np.mean([float(v) for v in values]))


def selection(module, rows: list[dict]) -> str:
  """The sweep file's selection rule, applied and printed: with SELECT (a minival metric, or a training-speed one,
  steps_to_*), the point whose mean of it is lowest among the finished points, or, with SELECT_WITHIN (a swept
  field, or a tuple of them), among the points of each of its values (or combinations); '' without SELECT. The test
  columns never enter it."""
  metric = sweep_file.setting(module, 'SELECT')
  if metric is None or not rows:
    return ''
  if not metric.startswith(('minival_', 'steps_to_')):
    raise ValueError(f'SELECT must be a minival or steps_to_ metric (selection never reads test); got {metric!r}')
  within = sweep_file.setting(module, 'SELECT_WITHIN')
  fields = (within,) if isinstance(within, str) else tuple(within or ())
  groups = {}
  for p in points_in_order(rows):
    group = [r for r in rows if r['point'] == p]
    groups.setdefault(tuple(group[0][f] for f in fields), {})[p] = _mean_or_inf([r[metric] for r in group])
  best = [min(means, key=means.get) for means in groups.values() if min(means.values()) < math.inf]
  count = sum(len(means) for means in groups.values())
  scope = (f"among the {count} points finished, for each {' and '.join(fields)}" if fields else
           f'of the {count} points finished')
  return (f'Selected by the rule (the lowest mean {metric} {scope}; test not read): '
          + ('; '.join(f'**{b}**' for b in best) or 'none (no point reached it)') + '.')


def markdown(rows: list[dict], module, title: str, note: str = '') -> str:
  """A row per point: n, minival and test errors (mean ± std over seeds, in %), and the contrast with the reference
  point, paired by seed, in the sweep's metric (`paired_columns`)."""
  reference = sweep_file.setting(module, 'REFERENCE')
  metric = sweep_file.metric(module)
  by_point = {p: [r for r in rows if r['point'] == p] for p in points_in_order(rows)}
  extra = [k for k in (rows[0] if rows else {}) if k.startswith('steps_to_')]
  paired = paired_columns(module, rows) if reference in by_point else {}
  units = contrasts.metric_units(metric)[1]
  head = ['point', 'n', 'train top-1 % (end)', 'minival top-1 %', 'test top-1 %', 'test top-5 %']
  head += [k.replace('_', ' ') for k in extra]
  if reference is not None:
    head += ['pairs', f'Δ {metric} vs {reference} ({units}) [95% CI]', 'p (paired t)', 'p (sign-flip)',
             'MDE (0.05, 80%)']
  head += ['img/s', 'min/run']
  lines = [f'## {title}', '', note, ''] if note else [f'## {title}', '']
  lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for point, group in by_point.items():
    lines.append('| ' + ' | '.join(_point_cells(point, group, extra, paired, reference is not None)) + ' |')
  chosen = selection(module, rows)
  lines += ['', chosen] if chosen else []
  regimes = [contrasts.regime_check(module, point, rows)[0] for point in by_point]
  lines += ['', *(f'The regime: {r}.' for r in regimes if r)] if any(regimes) else []
  ladder = ratio_ladder(rows, reference)
  lines += ['', ladder] if ladder else []
  converged = contrasts.convergence_check(module, rows)[0]
  lines += ['', f'Convergence: {converged}.'] if converged else []
  schedules = fixed_schedule_notes(by_point) + [schedule_note(point, group) for point, group in by_point.items()]
  lines += ['', *(s for s in schedules if s)] if any(schedules) else []
  return '\n'.join(lines) + '\n'


def ratio_ladder(rows: list[dict], reference: str | None) -> str:
  """Per point and training-error target (log2_steps_to_* columns): the ratio of its steps to the reference's, the
  geometric mean over the seeds where both reached the target, and how many seeds only one of them reached it on (a
  ratio of infinity or zero the mean leaves out); '' without targets or a reference."""
  targets = [k for k in (rows[0] if rows else {}) if k.startswith('log2_steps_to_')]
  if not targets or reference is None:
    return ''
  points = points_in_order(rows)
  if reference not in points:
    return ''
  reached = lambda point, k: {r['seed']: float(r[k]) for r in rows if r['point'] == point and r[k] not in (None, '')}
  parts = []
  for point in points:
    if point == reference:
      continue
    cells = []
    both_ran = {r['seed'] for r in rows if r['point'] == point} & {r['seed'] for r in rows if r['point'] == reference}
    for k in targets:
      ours, theirs = reached(point, k), reached(reference, k)
      _, logs = stats.pair_by_seed(ours, theirs)
      only = [f'{len(n)} where only {name} did' for name, n in (
          (reference, both_ran & set(theirs) - set(ours)), (point, both_ran & set(ours) - set(theirs))) if n]
      target = k[len('log2_steps_to_'):-len('_train_error')]
      mean = f'{2 ** logs.mean():.2f}x' if len(logs) else '-'
      cells.append(f'{100 * float(target):g}%: {mean} ' + f"(n={'; '.join([str(len(logs)), *only])})")
    parts.append(f"{point} / {reference}: {'; '.join(cells)}")
  return ('Steps to each training error, as a ratio to the reference (geometric mean over the seeds where both '
          'reached it): ' + ' | '.join(parts) + '.')


def fixed_schedule_notes(by_point: dict[str, list[dict]]) -> list[str]:
  """The fixed-drops schedule of the points on one: a single line when all of them share it (drops and the epochs
  their runs end at), else a line per point that names it."""
  fixed = {p: (tuple(sorted({r.get('drop_epochs') for r in g})),
               tuple(sorted({f"{float(r['epochs']):.1f}" for r in g})))
           for p, g in by_point.items() if g and all(r.get('schedule') == 'drops' for r in g)}
  line = lambda drops, ends: f"x0.1 at epochs {'; '.join(drops)}; runs end at epoch {', '.join(ends)}."
  if fixed and len(fixed) == len(by_point) and len(set(fixed.values())) == 1:
    return ['The schedule, fixed in advance, of every point: ' + line(*next(iter(fixed.values())))]
  return [f'The schedule of {p}, fixed in advance: ' + line(*s) for p, s in fixed.items()]


def schedule_note(point: str, group: list[dict]) -> str:
  """For a point on the plateau schedule: its runs' drops, how they ended, and how many trained less than one epoch
  at a reduced rate (unannealed); '' otherwise (fixed drops: fixed_schedule_notes)."""
  if not group or any(r.get('schedule') != 'plateau' for r in group):
    return ''
  unannealed = sum(1 for r in group if r['epochs_at_reduced_rate'] < 1)
  ends = sorted({r['end_reason'] for r in group if r['end_reason']})
  drops = ', '.join(str(r['lr_drops']) for r in group)
  reduced = ', '.join(f"{r['epochs_at_reduced_rate']:.1f}" for r in group)
  return (f'The schedule of {point}: drops per run {drops}; epochs at a reduced rate {reduced}; {unannealed} of '
          f'{len(group)} runs unannealed (under one epoch at a reduced rate)'
          + (f"; ended by: {', '.join(ends)}" if ends else '') + '.')


def sweep_title(module) -> str:
  return sweep_file.setting(module, 'TITLE') or os.path.basename(module.__file__)


def report(module, runs: list[plan.Run], workdir: str) -> list[dict]:
  """Writes results.csv and results.md of one sweep file's finished runs to `workdir`; returns the rows."""
  rows = collect(runs, train_error_targets(module), sweep_file.setting(module, 'EARLY_STEPS'))
  if not rows:
    return rows
  write_csv(rows, os.path.join(workdir, 'results.csv'))
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write(markdown(rows, module, sweep_title(module), sweep_file.setting(module, 'PAPER')))
  return rows
