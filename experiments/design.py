"""A study's design from a pilot: where its fixed drops go, and how many seeds each contrast needs.

  python -m experiments.design --runs='docs/proxy_plateau/runs/*' --effects=1.7,1.4,0.4 --hypotheses=10
      [--metric=test_top1_error] [--margin=0.5] [--correlation=0]

The pilot is the reference arm on the plateau rule, several seeds (experiments/sweeps/proxy_plateau.py). It prints:
- per run, the epochs at which the rule dropped the rate and where it ended; their medians, the fixed drops of a
  'drops' schedule (rounded to whole epochs) and the run length that leaves the last rate as long as the rule did;
- the within-arm spread of the metric (sd over seeds, in points), and from it the spread of a paired difference,
  sd_d = sd sqrt(2 (1 - rho)) with rho the correlation of two arms' runs of one seed (0 unless measured: the
  conservative case);
- for each effect, the seeds per arm whose paired t test detects it with 80% power at the family's strictest level,
  0.05 / hypotheses (stats.mde), and for a margin, the seeds at which the equivalence test (TOST) shows a true
  difference of 0 to be inside the margin with 80% power.
"""
from __future__ import annotations

import math
import statistics

from absl import app
from absl import flags
import numpy as np
from scipy import stats as scipy_stats

from alexnet import records
from experiments.study import stats

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags, defined only when this module runs as a program (tests import it beside other
  programs that define --runs)."""
  flags.DEFINE_multi_string('runs', None, "The pilot's run directories, or globs of them (the flag repeats).")
  flags.DEFINE_list('effects', [], 'Effects to detect, in points (the paper\'s deltas).')
  flags.DEFINE_integer('hypotheses', 1, "The study's Holm family size: the strictest level is 0.05 / hypotheses.")
  flags.DEFINE_string('metric', 'top1_error', 'summary.json field of the metric (test top-1 error).')
  flags.DEFINE_float('margin', 0.0, 'An equivalence margin, in points (0: none).')
  flags.DEFINE_float('correlation', 0.0, "rho: the correlation of two arms' runs of one seed.")
  flags.DEFINE_integer('max_seeds', 200, 'Give up above this many seeds per arm.')
  flags.mark_flags_as_required(['runs'])


def drop_epochs(summary: dict) -> list[float]:
  return [d['epoch'] for d in records.drops(summary)]


def schedule(summaries: list[dict]) -> tuple[list[float], float, list[int], int]:
  """(median drop epochs, median end epoch, the fixed drops rounded to whole epochs, the run length in whole epochs
  that trains as long after the last drop as the rule did, median)."""
  drops = [drop_epochs(s) for s in summaries]
  count = min(len(d) for d in drops)
  medians = [statistics.median(d[i] for d in drops) for i in range(count)]
  end = statistics.median(s['epoch'] for s in summaries)
  fixed = [round(m) for m in medians]
  tail = statistics.median(s['epoch'] - d[count - 1] for s, d in zip(summaries, drops, strict=True)) if count else 0
  return medians, end, fixed, (fixed[-1] if fixed else 0) + round(tail)


def seeds_to_detect(effect: float, sd_d: float, alpha: float, max_seeds: int) -> int | None:
  """The fewest seeds per arm whose paired t test at `alpha` detects `effect` with 80% power (stats.power: one
  integral per n, where stats.mde would solve for the effect at each)."""
  for n in range(2, max_seeds + 1):
    if stats.power(effect, sd_d, n, alpha) >= stats.POWER:
      return n
  return None


def tost_power(margin: float, sd_d: float, n: int, alpha: float) -> float:
  """Power of TOST at `alpha` when the true difference is 0: P(the (1 - 2 alpha) interval lies inside ±margin),
  integrated over the sample sd (chi-square) with the mean normal."""
  df, se = n - 1, sd_d / math.sqrt(n)
  critical = scipy_stats.t.ppf(1 - alpha, df)

  s = se * np.sqrt(scipy_stats.chi2.ppf((np.arange(4000) + 0.5) / 4000, df) / df)  # the sd's quantiles.
  return float(np.mean(np.maximum(0.0, 2 * scipy_stats.norm.cdf((margin - critical * s) / se) - 1)))


def seeds_for_equivalence(margin: float, sd_d: float, alpha: float, max_seeds: int) -> int | None:
  for n in range(2, max_seeds + 1):
    if tost_power(margin, sd_d, n, alpha) >= stats.POWER:
      return n
  return None


def report(workdirs: list[str], effects: list[float], hypotheses: int, metric: str, margin: float,
           correlation: float, max_seeds: int) -> str:
  summaries = [records.summary(w) for w in workdirs]
  lines = ['| run | drops at epoch | ended at epoch | why | ' + metric + ' (%) |', '|---|---|---|---|---|']
  for w, s in zip(workdirs, summaries, strict=True):
    lines.append(f"| {w} | {', '.join(f'{e:.2f}' for e in drop_epochs(s))} | {s['epoch']:.2f} | "
                 f"{s.get('end_reason', '-')} | {100 * s[metric]:.2f} |")
  medians, end, fixed, length = schedule(summaries)
  values = [100 * s[metric] for s in summaries]
  sd = statistics.stdev(values) if len(values) > 1 else math.nan
  sd_d = sd * math.sqrt(2 * (1 - correlation))
  alpha = stats.ALPHA / hypotheses
  lines += ['', f"Drops (median over {len(summaries)} runs): epochs {', '.join(f'{m:.2f}' for m in medians)}; end "
            f"{end:.2f}. Fixed: drop_epochs = ({', '.join(f'{f:.1f}' for f in fixed)}), num_epochs = {length:.1f}.",
            f'{metric}: mean {statistics.mean(values):.2f}, sd over seeds {sd:.2f} points; a paired difference '
            f'(rho = {correlation:g}): sd {sd_d:.2f} points. Level: 0.05 / {hypotheses} = {alpha:.4f}, power 80%.']
  for effect in effects:
    n = seeds_to_detect(effect, sd_d, alpha, max_seeds)
    lines.append(f"- effect {effect:g} points: {n if n else f'more than {max_seeds}'} seeds per arm "
                 f'(MDE at 5 seeds: {stats.mde(sd_d, 5, alpha):.2f})')
  if margin:
    n = seeds_for_equivalence(margin, sd_d, alpha, max_seeds)
    lines.append(f"- equivalence within ±{margin:g} points (a true difference of 0): "
                 f"{n if n else f'more than {max_seeds}'} seeds per arm")
  return '\n'.join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  workdirs = records.finished(FLAGS.runs)
  if not workdirs:
    raise app.UsageError(f'no finished run in {FLAGS.runs}')
  print(report(workdirs, [float(e) for e in FLAGS.effects], FLAGS.hypotheses, FLAGS.metric, FLAGS.margin,
               FLAGS.correlation, FLAGS.max_seeds))


if __name__ == '__main__':
  define_flags()
  app.run(main)
