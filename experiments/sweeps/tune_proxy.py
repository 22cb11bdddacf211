"""The proxy's learning rate, chosen on minival (never on test) before any ablation runs on it.

The grid, stated before running: 0.0025, 0.005, 0.01 (the paper's rate) and 0.02, seed 0, at the proxy's own schedule
(`--schedule=full`). Selected: the lowest final minival top-1 error; that rate becomes configs/proxy.py's. One seed:
this picks a setting, it is not a finding.

  python -m experiments.sweep --sweep=experiments/sweeps/tune_proxy.py --workdir=runs/tune_proxy --schedule=full \
      --jobs=2
"""
BASE = 'configs/proxy.py'
TITLE = 'Proxy learning rate, selected on minival'
METRIC = 'minival_top1_error'  # the contrasts read minival only.
SELECT = 'minival_top1_error'  # the selection rule: the lowest mean (experiments/sweep/report.selection).
REFERENCE = 'lr=0.01'
_RATES = (0.0025, 0.005, 0.01, 0.02)


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', [f'lr={r:g}' for r in _RATES]), h.sweep('config.learning_rate', _RATES)]),
                    h.fixed('config.seed', 0)])
