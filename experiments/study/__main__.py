"""A study's contrasts, paired by seed and adjusted across the study, with verdicts printed by a rule (stats.py).

  python -m experiments.study --results=docs/ablations [--questions=towers,lrn,init] [--out=docs/ablations/study.md]
  python -m experiments.study --list     # the study's questions, one per line (the Makefile reads them)
  python -m experiments.study --runs_dirs  # the folders their runs go to, one per line (make publish, restore-runs)

Each question is a sweep file, experiments/sweeps/<question>.py, whose results.csv (a row per run, written by
experiments.sweep) sits in <results>/<question>/. A question's contrasts are every point against its REFERENCE, in its
METRIC (default: test top-1 error); the sweep file may give the paper's delta for a contrast (PAPER_DELTA, point -
reference in the table's units), a line of context (ANCHORS) and contrasts the data cannot answer (UNTESTABLE, with
the reason). The family for Holm's adjustment is every testable contrast of every question listed, fixed in advance: a
question not run yet counts with p = 1, so running more of the study never makes an earlier verdict easier to reach.
The minimum detectable effect (MDE) is at the family's strictest level, 0.05 / m, with 80% power. The table is
experiments/study/table.py's.
"""
from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from experiments.study import table
from experiments.sweep import sweep_file

flags.DEFINE_string('results', 'docs/ablations', 'Folder with <question>/results.csv for each question.')
flags.DEFINE_list('questions', list(table.QUESTIONS), 'The study: sweep files in experiments/sweeps, in order.')
flags.DEFINE_string('out', '', 'Also write the table here.')
flags.DEFINE_bool('list', False, "Print the study's questions, one per line, and exit.")
flags.DEFINE_bool('runs_dirs', False, "Print the folders the study's runs go to (each question's RUNS_DIR), one per "
                  'line, and exit.')
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if FLAGS.list:
    print('\n'.join(table.QUESTIONS))
    return
  if FLAGS.runs_dirs:
    print('\n'.join(dict.fromkeys(table.runs_dir(sweep_file.question(q)) for q in FLAGS.questions)))
    return
  found = [q for q in FLAGS.questions if os.path.exists(os.path.join(FLAGS.results, q, 'results.csv'))]
  if not found:
    print(f'error: no question of the study has results in {FLAGS.results} (expected <question>/results.csv for '
          f'one of {", ".join(FLAGS.questions)})', file=sys.stderr)
    sys.exit(2)
  _, text = table.study(FLAGS.results, tuple(FLAGS.questions))
  print(text)
  if FLAGS.out:
    with open(FLAGS.out, 'w') as out:
      out.write(text)


if __name__ == '__main__':
  app.run(main)
