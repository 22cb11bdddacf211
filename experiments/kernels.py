"""The paper's Figure 3 for any run: conv1's kernels drawn per tower, with a colour-specificity number per tower.

  python -m experiments.kernels --workdir=RUN [--out=RUN/kernels.png]

Prints the PNG's path and each tower's colour specificity (0: grey kernels, 1: each kernel in one channel; undefined
on grey input). What the number is, and why: experiments/figures/figure3.py.
"""
from __future__ import annotations

import os

from absl import app
from absl import flags

from experiments.figures import figure3

flags.DEFINE_string('workdir', None, 'A run directory written by alexnet.main.')
flags.DEFINE_string('out', '', 'PNG path (default: <workdir>/kernels.png).')
flags.mark_flags_as_required(['workdir'])
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  result = figure3.draw(FLAGS.workdir, FLAGS.out or os.path.join(FLAGS.workdir, 'kernels.png'))
  spec = result['colour_specificity']
  print(result['png'])
  print('colour specificity per tower: ' + ('n/a (grey input: the kernels have one channel)' if spec is None
                                            else ', '.join(f'tower {t}: {s:.3f}' for t, s in enumerate(spec))))


if __name__ == '__main__':
  app.run(main)
