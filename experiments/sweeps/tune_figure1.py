"""Figure 1's learning rates, one per unit type, chosen as the paper chose them: "independently to make training as
fast as possible". Grid stated before it ran: 0.01, 0.03, 0.1, 0.3 for ReLU and for tanh; one selection seed (100),
apart from the seeds the contrast reads (experiments/sweeps/relu.py); configs/figure1.py's schedule (one epoch).
Selected, for each unit: the fewest steps to 25% training error (a point that never reaches it is never chosen).
Test is not read. One seed: this picks a setting, it is not a finding.

  python -m experiments.sweep --sweep=experiments/sweeps/tune_figure1.py --workdir=runs/tune_figure1 --jobs=1
"""
BASE = 'configs/figure1.py'
ENTRY = 'experiments.figure1'
TITLE = "Figure 1's learning rates, chosen per unit on training speed"
TRAIN_ERROR_TARGET = (0.25, 0.15)
SELECT = 'steps_to_0.25_train_error'
SELECT_WITHIN = 'activation'
_UNITS = ('relu', 'tanh')
_RATES = (0.01, 0.03, 0.1, 0.3)


def get_hyper(h, base):
  del base
  points = h.chain([h.product([h.fixed('config.activation', unit), h.zipit([
      h.sweep('label', [f'{unit} lr={r:g}' for r in _RATES]), h.sweep('config.learning_rate', _RATES)])])
                    for unit in _UNITS])
  return h.product([points, h.fixed('config.seed', 100)])
