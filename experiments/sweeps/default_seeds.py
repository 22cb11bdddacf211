"""The default config (its learning rate selected on minival by tune_default.py) over three seeds, at its own
schedule: the default run's minival and test accuracy as mean +- std, n = 3 (docs/results.md). Seed 0 is
tune_default's selected run, copied in rather than run again:

  mkdir -p runs/default_seeds/runs && cp -r 'runs/tune_default/base,seed=0' runs/default_seeds/runs/
  python -m experiments.sweep --sweep=experiments/sweeps/default_seeds.py --workdir=runs/default_seeds \
      --runs_dir=runs/default_seeds/runs --schedule=full --jobs=1
"""
from experiments import sweeps

BASE = 'configs/default.py'
TITLE = 'Default config over seeds'
REFERENCE = 'default'


def get_hyper(h, base):
  del base
  return h.product([h.fixed('label', 'default'), sweeps.seeds(h, (0, 1, 2))])
