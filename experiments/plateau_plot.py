"""The plateau rule at work: minival error and learning rate against epochs for several runs, each drop marked.

  python -m experiments.plateau_plot --runs='docs/schedules/runs/base,seed=*' --out=docs/schedules/plateau.png

Reads each run's summary.json: every minival evaluation (thin line), the mean of each window the rule judged (dots;
config.json's plateau_window_epochs), the windows after which the rate dropped (triangles), and the rate after each
evaluation (log scale).
"""
from __future__ import annotations

from absl import app
from absl import flags
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from alexnet import optim
from alexnet import records

flags.DEFINE_multi_string('runs', None, 'A run directory or a glob of them (the flag repeats).')
flags.DEFINE_string('out', None, 'PNG path.')


def window_means(history: list[dict], evals_per_window: int) -> tuple[np.ndarray, np.ndarray]:
  """(step at each window's end, mean top-1 error of its evaluations) for the whole windows of `history` (the
  evaluations the rule read: those on the evaluation grid)."""
  n = len(history) // evals_per_window * evals_per_window
  errors = np.array([h['top1_error'] for h in history[:n]]).reshape(-1, evals_per_window)
  ends = np.array([h['step'] for h in history[evals_per_window - 1:n:evals_per_window]])
  return ends, errors.mean(axis=1)


def plot(workdirs: list[str], out: str) -> str:
  fig, (err, rate) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, gridspec_kw={'height_ratios': (3, 1)})
  for i, workdir in enumerate(workdirs):
    summary, config = records.summary(workdir), records.config(workdir)
    history, color = summary['minival_history'], f'C{i}'
    per_epoch = summary['step'] / summary['epoch']
    epochs = np.array([h['step'] for h in history]) / per_epoch
    err.plot(epochs, [100 * h['top1_error'] for h in history], color=color, lw=0.6, alpha=0.6)
    eval_every = (config.eval_every_steps if config.eval_every_steps > 0
                  else max(1, round(config.eval_every_epochs * per_epoch)))
    rule = optim.Plateau.from_config(config, round(per_epoch), eval_every)
    ends, means = window_means([h for h in history if h['step'] % eval_every == 0], rule.evals_per_window)
    err.plot(ends / per_epoch, 100 * means, 'o', color=color, ms=3, label=f'seed {config.seed}: '
             f'{summary.get("end_reason") or "ended"}'
             f' at epoch {summary["epoch"]:.0f}, test {100 * summary["top1_error"]:.2f}%')
    rate.step(epochs, [h['learning_rate'] for h in history], where='post', color=color)
    drops = records.drops(summary)
    err.plot([d['step'] / per_epoch for d in drops], [100 * d.get('window_error', np.nan) for d in drops], 'v',
             color=color, ms=9, mec='k')  # records from before lr_drops give no window error
  err.set(ylabel='minival top-1 error (%)', ylim=(None, 20), title='minival error (lines), window means (dots), '
          'the windows that dropped the rate (triangles)')
  err.legend(fontsize=8)
  rate.set(xlabel='epoch', ylabel='learning rate', yscale='log')
  fig.tight_layout()
  fig.savefig(out, dpi=80)
  plt.close(fig)
  return out


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  workdirs = records.finished(flags.FLAGS.runs)
  if not workdirs:
    raise app.UsageError(f'no finished run under {flags.FLAGS.runs}')
  print(plot(workdirs, flags.FLAGS.out))


if __name__ == '__main__':
  flags.mark_flags_as_required(['runs', 'out'])
  app.run(main)
