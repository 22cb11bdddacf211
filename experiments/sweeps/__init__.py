"""Sweep files: each defines BASE, get_hyper(h, base) and, for this machine, SHORT (see experiments/sweep.py)."""

SEEDS = (0, 1, 2)

# The short schedule the ablations run with on this project's 2-core CPU machine (--schedule=short): one epoch of the
# base config, with minival evaluated every quarter epoch and the training error logged every 20 steps. About
# 3 core-minutes a run for the default (Fashion-MNIST) net; --schedule=full runs the base config's own schedule.
SHORT = {'num_epochs': 1.0, 'warmup_epochs': 0.1, 'eval_every_steps': -1, 'eval_every_epochs': 0.25,
         'log_every_steps': 20, 'checkpoint_every_steps': 200}


def seeds(h):
  return h.sweep('config.seed', SEEDS)
