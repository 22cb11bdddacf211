"""A question's contrasts: every point of a sweep file against its REFERENCE, paired by seed, from its results rows.

A contrast is read in the sweep file's METRIC (sweep_files.metric; default: test top-1 error), error rates in
percentage points and step counts in steps. The sweep file may give the paper's delta for a contrast (PAPER_DELTA,
point - reference in the table's units) or only its sign (PAPER_SIGN), and contrasts the data cannot answer
(UNTESTABLE, with the reason). Both the sweep's own table (sweep_report) and the study's (study_table) read them.
"""
from __future__ import annotations

import math

from experiments import stats
from experiments import sweep_files


def metric_units(metric: str) -> tuple[float, str]:
  """(scale, units): error rates in percentage points, step counts in steps."""
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


def contrasts(question: str, module, rows: list[dict]) -> list[stats.Contrast]:
  """Each planned point against the REFERENCE, paired by seed, from the question's rows (missing runs: n = 0)."""
  metric = sweep_files.metric(module)
  scale, _ = metric_units(metric)
  reference = module.REFERENCE
  by_point: dict[str, dict[int, float]] = {}
  for row in rows:
    value = _number(row.get(metric))
    if value is not None:
      by_point.setdefault(row['point'], {})[int(row['seed'])] = scale * value
  untestable = getattr(module, 'UNTESTABLE', {})
  points = sweep_files.labelled_points(module) or list(by_point)
  points += [p for p in untestable if p not in points]
  deltas, signs = getattr(module, 'PAPER_DELTA', {}), getattr(module, 'PAPER_SIGN', {})
  out = []
  for point in points:
    if point == reference:
      continue
    seeds, d = stats.pair_by_seed(by_point.get(point, {}), by_point.get(reference, {}))
    out.append(stats.Contrast(question, point, reference, metric, seeds, d, deltas.get(point, signs.get(point)),
                              untestable.get(point, ''), _paper_text(point, deltas, signs)))
  return out


def format_p(value) -> str:
  if value is None or math.isnan(value):
    return '-'
  return f'{value:.2g}' if value >= 1e-3 else f'{value:.1e}'
