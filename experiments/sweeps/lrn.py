"""Section 3.3: local response normalization, the paper's form, against none.

Design (the second; docs/experiments.md): configs/proxy_drops.py (pixel-unit inputs and the paper's init gain, so
that k = 2, alpha = 1e-4 act on activations of the paper's scale: `python -m experiments.activations --workdir=RUN`
shows whether they do), one schedule fixed in advance (x0.1 at epochs 8, 11, 14, the end at 17), 9 seeds per arm,
paired by seed; metric: test top-1 error at the end of training, where the paper's claim is; every arm must converge
(MUST_CONVERGE). The paper's claim is LRN against none, so the second design runs those two arms only (the first
also ran Caffe's form and batch norm, which the paper did not test; docs/results.md keeps what they showed). The
reference arm is towers.py's, run in one queue with it:

  python -m experiments.sweep --sweep=experiments/sweeps/towers.py,experiments/sweeps/lrn.py,\\
experiments/sweeps/pooling.py --workdir=runs/ablations --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy_drops.py'
TITLE = 'Local response normalization (Section 3.3)'
PAPER = 'Paper (ILSVRC-2010): LRN reduces top-1 / top-5 error by 1.4 / 1.2 points.'
REFERENCE = 'lrn=paper'
PAPER_DELTA = {'lrn=none': 1.4}
MUST_CONVERGE = sweeps.CONVERGED
RUNS_DIR = sweeps.DROPS_RUNS_DIR
ANCHORS = ('paper: no LRN is 1.4 points worse (ILSVRC-2010); VGG (Simonyan & Zisserman, 2015) found LRN gave no '
           'gain on ILSVRC.')


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['lrn=paper', 'lrn=none']), h.sweep('config.lrn', ['paper', 'none'])]),
                    sweeps.seeds(h, sweeps.DROPS_SEEDS)])
