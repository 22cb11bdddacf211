"""The default config's learning rate, chosen on minival (never on test): 0.02, 0.05 and 0.1, seed 0, at the default's
own schedule (`--schedule=full`), everything else as configs/default.py. Selected: the lowest final minival top-1
error. input_scale = 1/80 is not tuned: it is about one over the training pixels' standard deviation after mean
subtraction (docs/results.md, the default), so that He init sees unit-scale inputs. One seed: this picks a setting,
it is not a finding. The rule picked 0.1, the grid's largest rate (so the 0.1 point is the base config's run,
`base,seed=0`). These runs trained on the cosine schedule (configs/default_cosine.py, the default's before the plateau
rule); configs/default.py keeps 0.1 for the plateau rule without re-tuning it.

  python -m experiments.sweep --sweep=experiments/sweeps/tune_default.py --workdir=runs/tune_default \
      --schedule=full --jobs=1
"""
BASE = 'configs/default_cosine.py'
TITLE = 'Default config: learning rate, selected on minival'
METRIC = 'minival_top1_error'  # the contrasts read minival only.
SELECT = 'minival_top1_error'  # the selection rule: the lowest mean (experiments/sweep/report.selection).
REFERENCE = 'lr=0.05'
_RATES = (0.02, 0.05, 0.1)


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', [f'lr={r:g}' for r in _RATES]), h.sweep('config.learning_rate', _RATES)]),
                    h.fixed('config.seed', 0)])
