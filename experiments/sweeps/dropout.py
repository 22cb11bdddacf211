"""Section 4.2: dropout (0.5, before fc7 and fc8) against none, where there is overfitting to prevent.

Design: configs/proxy.py on a fixed subset of 5,000 training images (minival unchanged) for 40 epochs of it, so that
the net without dropout fits its training images well beyond what it generalises: results.md's final training error
against minival error shows whether it does, before the contrast is read. 5 seeds per arm; metric: test top-1 error.

  python -m experiments.sweep --sweep=experiments/sweeps/dropout.py --workdir=runs/ablations/dropout \
      --runs_dir=runs/ablations/runs --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'Dropout (Section 4.2)'
PAPER = ('Paper: without dropout the net overfits substantially; dropout roughly doubles the iterations needed to '
         'converge (no number given).')
REFERENCE = 'dropout=0.5'
PAPER_SIGN = {'dropout=0': +1}  # the paper: without dropout, more overfitting, so a higher test error.
OVERFIT = {'train_examples': 5_000, 'num_epochs': 40.0, 'eval_every_epochs': 1.0, 'log_every_steps': 10}


def get_hyper(h, base):
  del base
  regime = h.product([h.fixed(f'config.{k}', v) for k, v in OVERFIT.items()])
  return h.product([h.zipit([h.sweep('label', ['dropout=0.5', 'dropout=0']),
                             h.sweep('config.dropout_rate', [0.5, 0.0])]), regime, sweeps.seeds(h)])
