"""Section 4.1: random crops and horizontal flips against none, where there is overfitting to prevent; PCA lighting.

Design: configs/proxy.py on a fixed subset of 5,000 training images (minival unchanged) for 40 epochs of it (as the
dropout study), PCA lighting off in both arms; 5 seeds per arm; metric: test top-1 error. The paper's PCA lighting
("colour") cannot be tested on Fashion-MNIST: its images are grey, so the noise along the RGB principal components
becomes a brightness jitter.

  python -m experiments.sweep --sweep=experiments/sweeps/augmentation.py --workdir=runs/ablations/augmentation \
      --runs_dir=runs/ablations/runs --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'Data augmentation (Section 4.1)'
PAPER = ('Paper (ILSVRC-2012): without crops and flips the net overfits substantially (no number given); PCA lighting '
         'reduces top-1 error by over 1 point.')
REFERENCE = 'crop+flip'
PAPER_SIGN = {'none': +1}  # the paper: without augmentation, more overfitting, so a higher test error.
PAPER_DELTA = {'crop+flip+PCA': -1.0}  # "reduces the top-1 error rate by over 1%".
UNTESTABLE = {'crop+flip+PCA': 'grey images have no colour for PCA lighting to perturb'}
OVERFIT = {'train_examples': 5_000, 'num_epochs': 40.0, 'eval_every_epochs': 1.0, 'log_every_steps': 10,
           'pca_lighting': 0.0}


def get_hyper(h, base):
  regime = h.product([h.fixed(f'config.{k}', v) for k, v in OVERFIT.items()])
  return h.product([h.zipit([
      h.sweep('label', ['crop+flip', 'none']),
      h.sweep('config.random_crop', [True, False]),
      h.sweep('config.pad_crop', [base.pad_crop, 0]),
      h.sweep('config.random_flip', [True, False]),
  ]), regime, sweeps.seeds(h)])
