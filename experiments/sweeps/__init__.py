"""Sweep files: each defines BASE and get_hyper(h, base), and may set the other settings that
experiments/sweep/sweep_file.py declares (SETTINGS: what the sweep runner and the study read, with their defaults);
an undeclared upper-case name is refused. This package holds what the files share.

The ablation study's questions run on configs/proxy.py (the paper's numeric regime on the small net) at its own
schedule, each arm over the same SEEDS so that arms pair by seed (same batch order, augmentation draws, dropout masks).
"""

SEEDS = (0, 1, 2, 3, 4)

# The second design (docs/experiments.md): towers, LRN and pooling share a reference arm on configs/proxy_drops.py
# (one schedule fixed in advance), 9 seeds per arm, the n at which the pilot's spread brings the minimum detectable
# effect under the paper's 1.4 points (LRN) at the study's Holm level (`python -m experiments.design`, docs/results.md).
# Their runs keep a folder of their own: on another base, `base,seed=s` would name two different runs.
DROPS_SEEDS = tuple(range(9))
DROPS_RUNS_DIR = 'runs/ablations/drops'
# Every arm's training error must have stopped moving: its mean change over the last tenth of training within this
# many points (contrasts.convergence_check). On the pilot (docs/proxy_plateau) it was within 0.35 points in every run.
CONVERGED = 0.5

# Where a regulariser has overfitting to prevent (dropout, augmentation): a fixed 5,000-image subset of the training
# split for 40 epochs of it, minival unchanged; PCA lighting off (on grey images it is only a brightness jitter). The
# same regime in both questions, so the augmentation question's arm without crops and flips (dropout 0.5) is the
# dropout question's reference, one set of runs.
OVERFIT = {'train_examples': 5_000, 'num_epochs': 40.0, 'eval_every_epochs': 1.0, 'log_every_steps': 10,
           'pca_lighting': 0.0}
# The arm without the regulariser must overfit in that regime before its contrast is read: its minival error at
# least this many points above its training error at the end (mean over seeds; contrasts.regime_check). At the
# proxy's own schedule, with dropout and augmentation on, minival error ends below the training error.
OVERFIT_GAP = 3.0
# Crops and flips off: the augmentation question's arm without them and the dropout question's two arms (in this
# regime, with crops and flips on, the net without dropout does not overfit: docs/results.md, Dropout).
NO_AUGMENTATION = {'random_crop': False, 'pad_crop': 0, 'random_flip': False}


def seeds(h, values=SEEDS):
  return h.sweep('config.seed', values)


def fixed(h, values: dict):
  """Every run of the sweep with these config fields set."""
  return h.product([h.fixed(f'config.{k}', v) for k, v in values.items()])


def overfit(h):
  return fixed(h, OVERFIT)

# Figure 1's second design (experiments/sweeps/tune_figure1_pass.py, then relu.py): the training error measured on a
# fixed set of 10,000 training images at 20 log-spaced steps a decade, not a trailing window of batches; the paper's
# kind of init beside the LeCun-style one (configs/figure1.py says what each is).
FIGURE1_PASS = {'train_error': 'pass', 'pass_examples': 10_000, 'pass_points_per_decade': 20}
FIGURE1_INITS = {'lecun': {'init': 'lecun', 'standardise': True},
                 'paper': {'init': 'fixed', 'init_std': 0.01, 'standardise': False}}
# The training errors at which both units' steps are compared, stated before the runs: the paper's 25% and below it.
FIGURE1_LADDER = (0.25, 0.15, 0.10, 0.08)
