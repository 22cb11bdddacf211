"""Section 3.4: overlapping max pooling (z=3, s=2) against the traditional non-overlapping kind (z=s=2).

Design: configs/proxy.py at its own schedule, 5 seeds per arm; metric: test top-1 error. The paper's 0.4 points is
likely below what 5 seeds can detect here: the study's table gives the MDE reached.

  python -m experiments.sweep --sweep=experiments/sweeps/pooling.py --workdir=runs/ablations/pooling \
      --runs_dir=runs/ablations/runs --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'Overlapping pooling (Section 3.4)'
PAPER = 'Paper (ILSVRC-2010): overlapping pooling reduces top-1 / top-5 error by 0.4 / 0.3 points.'
REFERENCE = 'pool=overlapping'
PAPER_DELTA = {'pool=non_overlapping': 0.4}


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['pool=overlapping', 'pool=non_overlapping']),
                             h.sweep('config.pool', ['overlapping', 'non_overlapping'])]),
                    sweeps.seeds(h)])
