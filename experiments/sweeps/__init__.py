"""Sweep files: each defines BASE, get_hyper(h, base) and, optionally, what experiments/study.py reads: REFERENCE,
METRIC, PAPER_DELTA / PAPER_SIGN, ANCHORS, UNTESTABLE (see experiments/sweep.py and experiments/study.py).

The ablation study's questions run on configs/proxy.py (the paper's numeric regime on the small net) at its own
schedule, each arm over the same SEEDS so that arms pair by seed (same batch order, augmentation draws, dropout masks).
"""

SEEDS = (0, 1, 2, 3, 4)


def seeds(h, values=SEEDS):
  return h.sweep('config.seed', values)
