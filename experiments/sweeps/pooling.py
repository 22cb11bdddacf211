"""Section 3.4: overlapping max pooling (z=3, s=2) against the traditional non-overlapping kind (z=s=2)."""
from experiments.sweeps import SEEDS, SHORT  # pylint: disable=unused-import

BASE = 'configs/default.py'
TITLE = 'Overlapping pooling (Section 3.4)'
PAPER = 'Paper (ILSVRC-2010): overlapping pooling reduces top-1 / top-5 error by 0.4 / 0.3 points.'
REFERENCE = 'pool=overlapping'


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['pool=overlapping', 'pool=non_overlapping']),
                             h.sweep('config.pool', ['overlapping', 'non_overlapping'])]),
                    h.sweep('config.seed', SEEDS)])
