"""The pilot that sizes the dropout and augmentation questions' second design: how long each of their arms needs,
at the proxy's base rate, before its training error stops falling (the paper: dropout roughly doubles the iterations
to converge), so that one fixed schedule can give every arm the budget it needs.

Design, stated before it runs: configs/proxy.py in the overfitting regime (sweeps.OVERFIT: the fixed 5,000-image
training subset, minival unchanged, PCA lighting off) at a constant rate of 0.01 (no drop, no rule) for 150 epochs of
the subset (5,850 steps, 3.75 times the first design's 40 epochs), minival once an epoch; the three arms the two
questions read: dropout 0.5 without crops and flips (the shared arm), dropout 0 without them, dropout 0.5 with them;
2 seeds each. Read, for each arm: the first epoch after which its logged training error, averaged over windows of 10
epochs, falls by less than 0.5 points (sweeps.CONVERGED) from one window to the next. The second design's schedule
then drops the rate (x0.1) at the slowest arm's epoch (the larger over its seeds) and 10 and 20 epochs after it, and
ends 10 epochs after the third drop (390 steps apart at 39 steps an epoch of the subset; configs/proxy_drops.py's
drops are 3 epochs of 429 steps, 1,287 steps, apart), the same for every arm and seed of both questions.

  python -m experiments.sweep --sweep=experiments/sweeps/overfit_pilot.py --workdir=runs/overfit_pilot \
      --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'The overfitting regime at a constant rate: how long each regularised arm needs'
METRIC = 'minival_top1_error'
_SEEDS = (0, 1)
_CONSTANT = {'schedule': 'constant', 'num_epochs': 150.0}


def get_hyper(h, base):
  crop_flip = {'random_crop': True, 'pad_crop': base.pad_crop, 'random_flip': True}
  arms = h.chain([
      h.product([h.fixed('label', 'dropout=0.5, no crop/flip'), h.fixed('config.dropout_rate', 0.5),
                 sweeps.fixed(h, sweeps.NO_AUGMENTATION)]),
      h.product([h.fixed('label', 'dropout=0, no crop/flip'), h.fixed('config.dropout_rate', 0.0),
                 sweeps.fixed(h, sweeps.NO_AUGMENTATION)]),
      h.product([h.fixed('label', 'dropout=0.5, crop+flip'), h.fixed('config.dropout_rate', 0.5),
                 sweeps.fixed(h, crop_flip)]),
  ])
  return h.product([arms, sweeps.fixed(h, {**sweeps.OVERFIT, **_CONSTANT}), sweeps.seeds(h, _SEEDS)])
