"""How much minival error moves between two evaluations at a constant rate: the noise the plateau rule's threshold is
set from (docs/training.md, The plateau rule).

  python -m experiments.plateau_noise --runs='docs/ablations/first/runs/*' [--runs=RUN ...] [--after_epochs=1] [--z=2]

For each group of runs (config name, evaluation period, learning rate), the noise of one evaluation is estimated from
the second differences of consecutive minival errors at that rate, e[i+1] - 2 e[i] + e[i-1]: for a smooth trend plus
independent noise of standard deviation sigma they have variance 6 sigma^2, whatever the trend's slope, so
sigma = sqrt(mean(d^2) / 6). Evaluations in the first `after_epochs` (where the curve bends sharply) are left out.

A window of k evaluations averages that noise to sigma / sqrt(k); two windows differ by noise of sd sigma sqrt(2 / k).
The threshold printed is z times that: the gain a window must show over the best before the rule believes it.
"""
from __future__ import annotations

import collections
import math

from absl import app
from absl import flags
import numpy as np

from alexnet import records

flags.DEFINE_multi_string('runs', None, 'A run directory or a glob of them, each with summary.json and config.json '
                          '(the flag repeats).')
flags.DEFINE_float('after_epochs', 1.0, 'Leave out evaluations before this epoch.')
flags.DEFINE_float('window_epochs', 1.0, 'The plateau window the threshold is for (plateau_window_epochs).')
flags.DEFINE_float('z', 2.0, 'The threshold in standard deviations of the difference of two window means.')
FLAGS = flags.FLAGS


def second_differences(history: list[dict], steps_per_epoch: float, after_epochs: float) -> dict[float, list[float]]:
  """{learning rate: second differences of the top-1 error, in points} over triples of evaluations at one rate,
  evenly spaced, all after `after_epochs`."""
  out = collections.defaultdict(list)
  for a, b, c in zip(history, history[1:], history[2:]):
    same_rate = a['learning_rate'] == b['learning_rate'] == c['learning_rate']
    even = b['step'] - a['step'] == c['step'] - b['step']
    if same_rate and even and a['step'] >= after_epochs * steps_per_epoch:
      out[float(b['learning_rate'])].append(100 * (c['top1_error'] - 2 * b['top1_error'] + a['top1_error']))
  return out


def sigma(differences: list[float]) -> float:
  """The noise of one evaluation, in points, from second differences."""
  return math.sqrt(float(np.mean(np.square(differences))) / 6)


def threshold(noise: float, evals_per_window: int, z: float) -> float:
  """z standard deviations of the difference of two window means, in points."""
  return z * noise * math.sqrt(2 / evals_per_window)


def noise_rows(workdirs: list[str], after_epochs: float) -> list[dict]:
  """One row per (config name, evaluation period in epochs, learning rate): runs, second differences, sigma."""
  groups, members = collections.defaultdict(list), collections.defaultdict(set)
  for workdir in workdirs:
    summary = records.summary(workdir)
    if not summary or len(summary.get('minival_history', [])) < 3 or not summary.get('epoch'):
      continue
    history = summary['minival_history']
    steps_per_epoch = summary['step'] / summary['epoch']
    period = round((history[1]['step'] - history[0]['step']) / steps_per_epoch, 3)
    for rate, diffs in second_differences(history, steps_per_epoch, after_epochs).items():
      key = (summary['config_name'], period, rate)
      groups[key] += diffs
      members[key].add(workdir)
  return [{'config': name, 'eval_every_epochs': period, 'learning_rate': rate, 'runs': len(members[name, period, rate]),
           'n': len(groups[name, period, rate]), 'sigma': sigma(groups[name, period, rate])}
          for name, period, rate in sorted(groups, key=lambda k: (k[0], k[1], -k[2]))]


def format_rows(rows: list[dict], window_epochs: float, z: float) -> str:
  lines = [f'| config | eval every (epochs) | learning rate | runs | second differences | sigma (points) | '
           f'threshold for a {window_epochs:g}-epoch window, z = {z:g} (points) |', '|---|---|---|---|---|---|---|']
  for r in rows:
    k = max(1, round(window_epochs / r['eval_every_epochs']))
    lines.append(f"| {r['config']} | {r['eval_every_epochs']:g} | {r['learning_rate']:.0e} | {r['runs']} | {r['n']} | "
                 f"{r['sigma']:.2f} | {threshold(r['sigma'], k, z):.2f} (k = {k}) |")
  return '\n'.join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  rows = noise_rows(records.finished(FLAGS.runs), FLAGS.after_epochs)
  if not rows:
    raise app.UsageError(f'no run with three evaluations at one rate under {FLAGS.runs}')
  print(format_rows(rows, FLAGS.window_epochs, FLAGS.z))


if __name__ == '__main__':
  flags.mark_flags_as_required(['runs'])
  app.run(main)
