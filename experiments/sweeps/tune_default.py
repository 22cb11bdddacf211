"""Tuning the default config on minival (never on test): the former default (dropout 0.1, 8 epochs) and two
candidates, each over the default's own schedule (`--schedule=full`). The one-epoch ablations favoured less dropout on
minival; more epochs is the other cheap lever. One seed each: this picks a default, it is not a finding. Selected:
the lowest minival error (README, Results).

  python -m experiments.sweep --sweep=experiments/sweeps/tune_default.py --workdir=runs/tune_default \
      --schedule=full --jobs=2
"""
BASE = 'configs/default.py'
TITLE = 'Default config: candidates, selected on minival'
REFERENCE = 'dropout 0.1, 8 epochs'


def get_hyper(h, base):
  del base
  return h.zipit([h.sweep('label', ['dropout 0.1, 8 epochs', 'dropout 0, 8 epochs', 'dropout 0.1, 10 epochs']),
                  h.sweep('config.dropout_rate', [0.1, 0.0, 0.1]), h.sweep('config.num_epochs', [8.0, 8.0, 10.0]),
                  h.sweep('config.seed', [0, 0, 0])])
