"""Section 3.1, Figure 1: ReLU against tanh units in the paper's setting (configs/figure1.py: a four-layer
convolutional net, no regularisation of any kind), each unit at its own learning rate, chosen as the paper chose it,
to make training as fast as possible (experiments/sweeps/tune_figure1.py, on a selection seed of its own).

Design: 5 seeds per unit, paired by seed (the same initial weights and batch order); one epoch; the training error
logged every step (the mean of the last 20 batches, each measured before its update). Metric: the steps to 25%
training error, the paper's measure. On Fashion-MNIST that point comes early (within the first fifth of an epoch,
where the paper's CIFAR-10 net took about five epochs), so the steps to 15% are reported beside it (results.md), not
tested. The runs keep their own folder: their base config is not the proxy, so `base,seed=s` would name two runs.

  python -m experiments.sweep --sweep=experiments/sweeps/tune_figure1.py --workdir=runs/tune_figure1 --jobs=1
  python -m experiments.sweep --sweep=experiments/sweeps/relu.py --workdir=runs/ablations/relu --jobs=1
"""
from experiments import sweeps

BASE = 'configs/figure1.py'
ENTRY = 'experiments.figure1'
RUNS_DIR = 'runs/ablations/relu'
TITLE = 'ReLU vs tanh (Section 3.1, Figure 1)'
PAPER = ('Paper (CIFAR-10, a four-layer net, no regularisation, learning rates chosen per unit): ReLUs reach 25% '
         'training error six times faster than tanh units.')
REFERENCE = 'relu'
METRIC = 'steps_to_0.25_train_error'
TRAIN_ERROR_TARGET = (0.25, 0.15)
PAPER_SIGN = {'tanh': +1}  # the paper: tanh needs more steps (about six times ReLU's).
ANCHORS = ('paper: ReLUs reach 25% training error on CIFAR-10 six times faster than tanh (Figure 1); here the '
           'steps to 25% come within the first fifth of an epoch.')
_RATES = {'relu': 0.01, 'tanh': 0.03}  # tune_figure1.py's selection (docs/tune_figure1/results.md).


def get_hyper(h, base):
  del base
  return h.product([h.chain([h.product([h.fixed('label', unit), h.fixed('config.activation', unit),
                                        h.fixed('config.learning_rate', rate)]) for unit, rate in _RATES.items()]),
                    sweeps.seeds(h)])
