"""Section 3.4: overlapping max pooling (z=3, s=2) against the traditional non-overlapping kind (z=s=2).

Design (the second; docs/experiments.md): configs/proxy_drops.py, one schedule fixed in advance (x0.1 at epochs 8,
11, 14, the end at 17), 9 seeds per arm, paired by seed; metric: test top-1 error; every arm must converge
(MUST_CONVERGE). The paper's 0.4 points is below what this budget can detect: at the pilot's spread it needs about 57
seeds per arm; 9 seeds detect about 1.3 points (the table gives the MDE reached), so only an effect three times the
paper's could show. The reference arm is towers.py's, run in one queue with it:

  python -m experiments.sweep --sweep=experiments/sweeps/towers.py,experiments/sweeps/lrn.py,\\
experiments/sweeps/pooling.py --workdir=runs/ablations --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy_drops.py'
TITLE = 'Overlapping pooling (Section 3.4)'
PAPER = 'Paper (ILSVRC-2010): overlapping pooling reduces top-1 / top-5 error by 0.4 / 0.3 points.'
REFERENCE = 'pool=overlapping'
PAPER_DELTA = {'pool=non_overlapping': 0.4}
MUST_CONVERGE = sweeps.CONVERGED
RUNS_DIR = sweeps.DROPS_RUNS_DIR


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['pool=overlapping', 'pool=non_overlapping']),
                             h.sweep('config.pool', ['overlapping', 'non_overlapping'])]),
                    sweeps.seeds(h, sweeps.DROPS_SEEDS)])
