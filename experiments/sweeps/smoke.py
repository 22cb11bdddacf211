"""Two points, two seeds each, on the smoke config (tiny net, synthetic data): the sweep runner's own test."""
BASE = 'configs/smoke.py'
TITLE = 'Smoke: LRN against none'
REFERENCE = 'lrn=paper'
TRAIN_ERROR_TARGET = 0.5
SHORT = {'num_train_steps': 120, 'eval_every_steps': 40, 'log_every_steps': 10}


def get_hyper(h, base):
  del base
  return h.product([h.zipit([h.sweep('label', ['lrn=paper', 'lrn=none']), h.sweep('config.lrn', ['paper', 'none'])]),
                    h.sweep('config.seed', [0, 1])])
