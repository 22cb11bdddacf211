"""Does LRN act? The regime of Section 3.3's normalisation on a run's own minival images, at init and at its checkpoint.

  python -m experiments.activations --workdir=RUN [--examples=512] [--json=PATH]

Reports, for each LRN site, r = alpha * S / k (median, 90th percentile) and the spread of LRN's scale factor across
units, at the run's initial parameters and at its latest checkpoint: whether LRN acts or is a constant factor. What is
measured and why: experiments/study/regime.py.
"""
from __future__ import annotations

import json

from absl import app
from absl import flags

from experiments.study import regime

flags.DEFINE_string('workdir', None, 'A run directory (python -m alexnet.main --workdir=RUN).')
flags.DEFINE_integer('examples', 512, 'Minival images to measure on.')
flags.DEFINE_string('json', '', 'Also write the figures here.')
flags.mark_flags_as_required(['workdir'])
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  result = regime.report(FLAGS.workdir, FLAGS.examples)
  print(regime.format_report(result))
  if FLAGS.json:
    with open(FLAGS.json, 'w') as out:
      json.dump(result, out, indent=2)


if __name__ == '__main__':
  app.run(main)
