"""The default config (selected on minival by tune_default.py) over three seeds, at its own schedule: the default
run's minival and test accuracy as mean +- std, n = 3 (docs/results.md). Seed 0 is tune_default's selected run.

  python -m experiments.sweep --sweep=experiments/sweeps/default_seeds.py --workdir=runs/default_seeds_grain \
      --runs_dir=runs/default_seeds_grain/runs --schedule=full --jobs=2
(Before the grain reader, `--runs_dir=runs/tune_default` reused the tuning run as seed 0.)
"""
from experiments import sweeps

BASE = 'configs/default.py'
TITLE = 'Default config over seeds'
REFERENCE = 'default'


def get_hyper(h, base):
  del base
  return h.product([h.fixed('label', 'default'), sweeps.seeds(h, (0, 1, 2))])
