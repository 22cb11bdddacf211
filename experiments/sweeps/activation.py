"""Section 3.1, Figure 1: ReLU against tanh; the figure's measure is the steps needed to reach 25% training error."""
from experiments.sweeps import SEEDS, SHORT  # pylint: disable=unused-import

BASE = 'configs/default.py'
TITLE = 'ReLU vs tanh (Section 3.1, Figure 1)'
PAPER = ('Paper (CIFAR-10, a four-layer net): ReLUs reach 25% training error six times faster than tanh units. '
         'Steps below count from the first logged window (20 steps) at or under 25% training error.')
REFERENCE = 'relu'
TRAIN_ERROR_TARGET = 0.25


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['relu', 'tanh']), h.sweep('config.activation', ['relu', 'tanh'])]),
                    h.sweep('config.seed', SEEDS)])
