"""Section 3.3: local response normalization, in the paper's and Caffe's forms, against none and batch norm.

Design: configs/proxy.py (pixel-unit inputs and the paper's init gain, so that k = 2, alpha = 1e-4 act on activations
of the paper's scale: `python -m experiments.activations --workdir=RUN` shows whether they do), its own schedule
(plateau on minival, at most three drops), 5 seeds per arm; metric: test top-1 error.

  python -m experiments.sweep --sweep=experiments/sweeps/lrn.py --workdir=runs/ablations/lrn \
      --runs_dir=runs/ablations/runs --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'Local response normalization (Section 3.3)'
PAPER = 'Paper (ILSVRC-2010): LRN reduces top-1 / top-5 error by 1.4 / 1.2 points.'
REFERENCE = 'lrn=paper'
PAPER_DELTA = {'lrn=none': 1.4}
ANCHORS = ('paper: no LRN is 1.4 points worse (ILSVRC-2010); VGG (Simonyan & Zisserman, 2015) found LRN gave no '
           'gain on ILSVRC.')


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['lrn=paper', 'lrn=none', 'lrn=caffe', 'lrn=batchnorm']),
                             h.sweep('config.lrn', ['paper', 'none', 'caffe', 'batchnorm'])]),
                    sweeps.seeds(h)])
