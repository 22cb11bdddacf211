"""Does LRN act? The regime of Section 3.3's normalisation on a run's own minival images, at init and at its checkpoint.

  python -m experiments.activations --workdir=RUN [--examples=512] [--json=PATH]

Section 3.3 divides each ReLU output a_i by (k + alpha * S_i)^beta, S_i = sum of a_j^2 over the n = 5 neighbouring
maps of one tower. With k = 2, alpha = 1e-4, beta = 0.75 the division only varies between units when alpha * S_i is
not small against k; when it is, LRN is the constant factor k^-beta = 0.595 and a contrast "with vs without LRN" tests
nothing. For each LRN site (after conv1 and conv2) this reports, over every unit (image, position, map) of the first
`examples` minival images (centre views, the run's preprocessing):

- r = alpha * S / k: its median and 90th percentile (r << 1: LRN is a constant factor);
- the factor (k + alpha S)^-beta relative to its value at S = 0, k^-beta: its 1st percentile, median, and the spread
  between the 1st and 99th percentiles (0 when LRN is a constant factor).

Constants are the run's LRN form ('caffe': k = 1, alpha / n per map); runs without LRN ('none', 'batchnorm') are
measured with the paper's constants, as what LRN would do to their activations. Rows: the run's initial parameters
(its config and seed) and its latest checkpoint (experiments/regime.py).
"""
from __future__ import annotations

import json

from absl import app
from absl import flags

from experiments import regime

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
