"""Section 3.3: local response normalization, in the paper's and Caffe's forms, against none and batch norm."""
from experiments.sweeps import SEEDS, SHORT  # pylint: disable=unused-import

BASE = 'configs/default.py'
TITLE = 'Local response normalization (Section 3.3)'
PAPER = 'Paper (ILSVRC-2010): LRN reduces top-1 / top-5 error by 1.4 / 1.2 points.'
REFERENCE = 'lrn=paper'


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['lrn=paper', 'lrn=caffe', 'lrn=none', 'lrn=batchnorm']),
                             h.sweep('config.lrn', ['paper', 'caffe', 'none', 'batchnorm'])]),
                    h.sweep('config.seed', SEEDS)])
