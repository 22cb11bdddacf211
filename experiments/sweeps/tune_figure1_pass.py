"""Figure 1's learning rates for the study's second design, one per unit and init, chosen as the paper chose them:
"independently to make training as fast as possible".

Design, stated before it runs: Figure 1's net (configs/figure1.py) with the training error measured on a fixed set of
10,000 training images at 20 log-spaced steps a decade (sweeps.FIGURE1_PASS); two inits (sweeps.FIGURE1_INITS): the
LeCun-style one (N(0, 1 / fan-in) on standardised inputs) and the paper's kind (N(0, 0.01) on mean-subtracted pixel
values); the grid 1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1 for each unit and init (the first design's grid started at
0.01, where ReLU's selection sat at its edge); two epochs (858 steps); one selection seed (100), apart from the seeds
the contrast reads. Selected, for each unit and init: the fewest steps to 25% training error (a point that never
reaches it is never chosen); the steps to 15, 10 and 8% are reported. Test is not read. One seed: this picks a
setting, it is not a finding. experiments/sweeps/relu.py takes the selected rates before its runs.

  python -m experiments.sweep --sweep=experiments/sweeps/tune_figure1_pass.py --workdir=runs/tune_figure1_pass --jobs=2
"""
from experiments import sweeps

BASE = 'configs/figure1.py'
ENTRY = 'experiments.figure1'
TITLE = "Figure 1's learning rates (second design), chosen per unit and init on training speed"
TRAIN_ERROR_TARGET = sweeps.FIGURE1_LADDER
SELECT = 'steps_to_0.25_train_error'
SELECT_WITHIN = ('activation', 'init')
_UNITS = ('relu', 'tanh')
_RATES = (1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1)
_STEPS = 858  # two epochs of the 55,000 training images at batch 128.


def get_hyper(h, base):
  del base
  points = h.chain([
      h.product([h.fixed('config.activation', unit), sweeps.fixed(h, sweeps.FIGURE1_INITS[init]), h.zipit([
          h.sweep('label', [f'{unit} {init} lr={r:g}' for r in _RATES]), h.sweep('config.learning_rate', _RATES)])])
      for unit in _UNITS for init in sweeps.FIGURE1_INITS])
  return h.product([points, sweeps.fixed(h, {**sweeps.FIGURE1_PASS, 'num_steps': _STEPS}), h.fixed('config.seed', 100)])
