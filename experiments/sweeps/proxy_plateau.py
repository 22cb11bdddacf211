"""configs/proxy.py on its own schedule, the plateau rule (docs/training.md), over the study's 5 seeds: does every run
anneal (train at least one epoch at a reduced rate; the table's schedule line counts those that do not), how far
apart do the seeds end (the within-arm spread; the first design's 4-epoch runs spread by 0.77 points, 0.48 over
those that annealed), and where does the rule drop (the pilot that places the fixed drops of the study's second
design).

  python -m experiments.sweep --sweep=experiments/sweeps/proxy_plateau.py --workdir=runs/proxy_plateau \\
      --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'The proxy on the plateau rule, 5 seeds'
METRIC = 'minival_top1_error'


def get_hyper(h, base):
  del base
  return h.product([h.fixed('label', 'proxy'), sweeps.seeds(h)])
