"""Pictures of a finished run: learning curves with the plateau rule's drops marked, and conv1's kernels per tower
(the paper's Figure 3).

  python -m experiments.plot_run --workdir=runs/default [--out=runs/default/run.png]

Reads the run's TensorBoard events (train/eval scalars) and its latest checkpoint (conv1 kernels).
"""
from __future__ import annotations

import os

from absl import app
from absl import flags
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

from alexnet import records
from experiments.figures import figure3

flags.DEFINE_string('workdir', None, 'A run directory written by alexnet.main.')
flags.DEFINE_string('out', '', 'PNG path (default: <workdir>/run.png).')
flags.mark_flags_as_required(['workdir'])


def mark_drops(axes, drops: list[dict]) -> None:
  """A dashed line at each of the plateau rule's drops (summary.json's lr_drops), labelled with the new rate."""
  for ax in axes:
    for drop in drops:
      ax.axvline(drop['step'], color='grey', ls='--', lw=0.8)
      ax.annotate(f"lr {drop['learning_rate']:g}", (drop['step'], 1), xycoords=('data', 'axes fraction'),
                  rotation=90, va='top', ha='right', fontsize=7, color='grey')


def plot(workdir: str, out: str) -> str:
  scalars = records.scalars(workdir)
  kernels = figure3.conv1(workdir)
  towers = kernels.shape[0]
  fig, axes = plt.subplots(1, 2 + towers, figsize=(5 * (2 + towers), 4))
  for tag, style in (('train/top1_error', '-'), ('minival/top1_error', 'o-'), ('minival/top5_error', 's--')):
    if tag in scalars:
      axes[0].plot(*scalars[tag], style, label=tag)
  axes[0].set(xlabel='step', ylabel='error', title='top-1 / top-5 error', ylim=(0, None))
  axes[0].legend()
  for tag in ('train/loss', 'minival/loss'):
    if tag in scalars:
      axes[1].plot(*scalars[tag], label=tag)
  if 'train/learning_rate' in scalars:
    rate = axes[1].twinx()
    rate.plot(*scalars['train/learning_rate'], 'k:', label='learning rate')
    rate.set(ylabel='learning rate', yscale='log')
  axes[1].set(xlabel='step', ylabel='loss', title='loss')
  axes[1].legend()
  mark_drops(axes[:2], (records.summary(workdir) or {}).get('lr_drops', []))
  for t in range(towers):
    axes[2 + t].imshow(figure3.kernel_grid(kernels[t]), interpolation='nearest')
    axes[2 + t].set(title=f'conv1 kernels, tower {t}', xticks=[], yticks=[])
  fig.tight_layout()
  fig.savefig(out, dpi=80)
  plt.close(fig)
  return out


def main(argv):
  del argv
  workdir = flags.FLAGS.workdir
  print(plot(workdir, flags.FLAGS.out or os.path.join(workdir, 'run.png')))


if __name__ == '__main__':
  app.run(main)
