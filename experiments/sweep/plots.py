"""A sweep's plots, beside its results.md: test_error.png (bars: mean, whiskers: std, dots: seeds), minival_curves.png
and train_curves.png (means over seeds, shaded ± std; the sweep's training-error targets as dashed lines, the drops of
a schedule fixed in advance as dotted vertical lines)."""
from __future__ import annotations

import math
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from alexnet import records
from experiments.sweep import plan
from experiments.sweep import report

CURVES = (('minival_curves.png', records.minival_curve, 'minival top-1 error (%)'),
          ('train_curves.png', records.train_curve, 'training top-1 error (%), as logged'))


def error_bars(rows: list[dict], path: str, title: str) -> str:
  points = report.points_in_order(rows)
  fig, ax = plt.subplots(figsize=(7, 0.5 * len(points) + 1.5))
  for i, p in enumerate(points):
    errors = [100 * r['test_top1_error'] for r in rows if r['point'] == p]
    mean, std, _ = report.mean_std(errors)
    ax.barh(i, mean, xerr=0 if math.isnan(std) else std, color='C0', alpha=0.6, capsize=4)
    ax.plot(errors, [i] * len(errors), 'k.', ms=5)
  ax.set_yticks(range(len(points)), points, fontsize=8)
  ax.invert_yaxis()
  lo = min(100 * r['test_top1_error'] for r in rows)
  ax.set(xlabel='test top-1 error (%)', xlim=(max(0.0, lo * 0.8), None))
  ax.set_title(f'{title}: test error, mean ± std over seeds (dots: seeds)', fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
  return path


def drop_steps(rows: list[dict], runs: list[plan.Run]) -> list[float]:
  """The steps of the rate's drops where every finished run is on one schedule fixed in advance ('drops'), else []."""
  by_slug = {r.slug: r for r in runs}
  finished = [(by_slug[r['run']], r) for r in rows if r['run'] in by_slug]
  if not finished or any(run.config.schedule != 'drops' for run, _ in finished):
    return []
  if len({tuple(run.config.drop_epochs) for run, _ in finished}) != 1:
    return []
  run, row = finished[0]
  steps_per_epoch = float(row['steps']) / float(row['epochs'])
  return [e * steps_per_epoch for e in run.config.drop_epochs]


def curves_plot(rows: list[dict], runs: list[plan.Run], path: str, title: str, curve_of, ylabel: str,
                targets: tuple[float, ...] = ()) -> str:
  """Per point, the mean over its finished seeds of `curve_of(workdir)` (steps, values), shaded ± std; a dashed
  line at each of `targets` (errors), a dotted one at each fixed drop of the rate (drop_steps)."""
  finished = {r['run'] for r in rows}
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for i, p in enumerate(report.points_in_order(rows)):
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
  for target in targets:
    ax.axhline(100 * target, color='k', ls='--', lw=0.8)
  for i, step in enumerate(drop_steps(rows, runs)):
    ax.axvline(step, color='0.4', ls=':', lw=1, label='rate x0.1 (fixed in advance)' if i == 0 else None)
  ax.set(xlabel='step', ylabel=ylabel)
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
  return path


def plot(rows: list[dict], runs: list[plan.Run], workdir: str, title: str,
         train_error_targets: tuple[float, ...] = ()) -> list[str]:
  """The three PNGs of a sweep's finished runs (`rows`, from report.collect) in `workdir`, the training
  curves with the sweep's training-error targets; returns their paths."""
  paths = [error_bars(rows, os.path.join(workdir, 'test_error.png'), title)]
  for name, curve_of, ylabel in CURVES:
    targets = train_error_targets if curve_of is records.train_curve else ()
    paths.append(curves_plot(rows, runs, os.path.join(workdir, name), title, curve_of, ylabel, targets))
  return paths
