"""A question's contrasts: every point of a sweep file against its REFERENCE, paired by seed, from its results rows.

A contrast is read in the sweep file's METRIC (sweep_file.metric; default: test top-1 error), error rates in
percentage points and step counts in steps. The sweep file may give the paper's delta for a contrast (PAPER_DELTA,
point - reference in the table's units) or only its sign (PAPER_SIGN), contrasts the data cannot answer
(UNTESTABLE, with the reason), and points that must overfit for their contrast to mean what the paper's does
(MUST_OVERFIT: point -> the least mean gap, in points, between minival error and training error at the end). Both the
sweep's own table (report) and the study's (study_table) read them.
"""
from __future__ import annotations

import math

from experiments.study import stats
from experiments.sweep import sweep_file


def metric_units(metric: str) -> tuple[float, str]:
  """(scale, units): error rates in percentage points, step counts in steps, their logs in log2 steps (a difference
  of 1 is a factor of 2)."""
  if metric.startswith('log2_steps_to_'):
    return 1.0, 'log2 steps'
  return (1.0, 'steps') if metric.startswith('steps_to_') else (100.0, 'points')


def _number(value) -> float | None:
  if value is None or value == '':
    return None
  return float(value)


def _paper_text(point: str, deltas: dict, signs: dict) -> str:
  if point in deltas:
    return f'{deltas[point]:+g}'
  if point in signs:
    return ('higher' if signs[point] > 0 else 'lower') + ' (no number)'
  return '-'


def overfit_gap(rows: list[dict], point: str) -> tuple[float, int]:
  """(mean over the point's finished runs of minival top-1 error minus training top-1 error at the end, in points;
  runs): how far the point's runs fit their training images beyond what they generalise to."""
  gaps = []
  for r in rows:
    minival, train = _number(r.get('minival_top1_error')), _number(r.get('train_top1_error_end'))
    if r['point'] == point and minival is not None and train is not None and math.isfinite(minival - train):
      gaps.append(100 * (minival - train))
  return (float(sum(gaps) / len(gaps)) if gaps else math.nan), len(gaps)


def regime_check(module, point: str, rows: list[dict]) -> tuple[str, bool]:
  """(the check as the table notes it, whether it fails) for a point the sweep file requires to overfit, over its
  finished runs; ('', False) for the others and for a point with no finished run."""
  least = sweep_file.setting(module, 'MUST_OVERFIT').get(point)
  if least is None:
    return '', False
  gap, n = overfit_gap(rows, point)
  if n == 0:
    return '', False
  gap = round(gap, 2)  # the sign the text gives is the sign of the number it shows.
  holds = gap >= least
  return (f'{point} {"overfits" if holds else "does not overfit"}: its minival error ends {abs(gap):.2f} points '
          f'{"above" if gap >= 0 else "below"} its training error (mean over {n} runs; the design asks for at least '
          f'{least:g} above)'), not holds


def convergence_check(module, rows: list[dict]) -> tuple[str, bool]:
  """(the check as the tables note it, whether it fails) under the sweep file's MUST_CONVERGE (points): every arm's
  training error must have stopped moving, its mean late change (report.late_change: the last tenth of training
  against the tenth before) within the threshold; ('', False) without the setting or without finished runs. It fails
  closed: an arm with runs but no late change measured (a run too short to have one) counts as not converged."""
  threshold = sweep_file.setting(module, 'MUST_CONVERGE')
  if threshold is None or not rows:
    return '', False
  changes: dict[str, list[float]] = {r['point']: [] for r in rows}
  for r in rows:
    change = _number(r.get('train_top1_error_late_change'))
    if change is not None and math.isfinite(change):
      changes[r['point']].append(100 * change)
  means = {p: round(sum(v) / len(v), 2) if v else math.nan for p, v in changes.items()}
  moving = [p for p, m in means.items() if not abs(m) <= threshold]  # nan: not measured, not converged.
  listed = ', '.join(f'{p} {m:+.2f}' if math.isfinite(m) else f'{p} not measured' for p, m in means.items())
  verdict = 'every arm converged' if not moving else f'not converged: {", ".join(moving)}'
  return (f'{verdict} (training error over the last tenth of training minus the tenth before, mean over runs, in '
          f'points: {listed}; the design allows at most {threshold:g})'), bool(moving)


def contrasts(question: str, module, rows: list[dict]) -> list[stats.Contrast]:
  """Each planned point against the REFERENCE, paired by seed, from the question's rows (missing runs: n = 0)."""
  metric = sweep_file.metric(module)
  scale, _ = metric_units(metric)
  reference = module.REFERENCE
  by_point: dict[str, dict[int, float]] = {}
  for row in rows:
    value = _number(row.get(metric))
    if value is not None:
      by_point.setdefault(row['point'], {})[int(row['seed'])] = scale * value
  untestable = sweep_file.setting(module, 'UNTESTABLE')
  points = sweep_file.labelled_points(module) or list(by_point)
  points += [p for p in untestable if p not in points]
  deltas, signs = sweep_file.setting(module, 'PAPER_DELTA'), sweep_file.setting(module, 'PAPER_SIGN')
  margins = sweep_file.setting(module, 'EQUIVALENCE')
  converged, not_converged = convergence_check(module, rows)
  out = []
  for point in points:
    if point == reference:
      continue
    seeds, d = stats.pair_by_seed(by_point.get(point, {}), by_point.get(reference, {}))
    regime, fails = regime_check(module, point, rows)
    regime = '; '.join(r for r in (converged, regime) if r)
    out.append(stats.Contrast(question, point, reference, metric, seeds, d, deltas.get(point, signs.get(point)),
                              untestable.get(point, ''), _paper_text(point, deltas, signs), regime,
                              fails or not_converged, margins.get(point)))
  return out


def format_p(value) -> str:
  if value is None or math.isnan(value):
    return '-'
  return f'{value:.2g}' if value >= 1e-3 else f'{value:.1e}'
