"""Section 4.2: dropout before FC7 and FC8, at the paper's 0.5, the default config's rate, and none."""
from experiments.sweeps import SEEDS, SHORT  # pylint: disable=unused-import

BASE = 'configs/default.py'
TITLE = 'Dropout (Section 4.2)'
PAPER = ('Paper: without dropout the net overfits substantially; dropout roughly doubles the iterations needed to '
         'converge (no number given).')
REFERENCE = 'dropout=0'


def get_hyper(h, base):
  rates = sorted({0.5, base.dropout_rate, 0.0}, reverse=True)
  return h.product([h.zipit([h.sweep('label', [f'dropout={r:g}' for r in rates]),
                             h.sweep('config.dropout_rate', rates)]),
                    h.sweep('config.seed', SEEDS)])
