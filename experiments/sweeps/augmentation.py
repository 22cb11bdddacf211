"""Section 4.1: random crops and horizontal flips against none, where there is overfitting to prevent; PCA lighting.

Design: configs/proxy.py in the overfitting regime of sweeps.OVERFIT (as the dropout study: a fixed subset of 5,000
training images, minival unchanged, 40 epochs of it, PCA lighting off in both arms; the arm without crops and flips,
sweeps.NO_AUGMENTATION, is the dropout question's dropout=0.5 arm, the same runs); 5 seeds per arm; metric: test
top-1 error. The paper's PCA lighting ("colour") cannot be tested on Fashion-MNIST: its images are grey, so the noise
along the RGB principal components becomes a brightness jitter.

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
MUST_OVERFIT = {'none': sweeps.OVERFIT_GAP}  # else its contrast gets no verdict: 'cannot test here'.
PAPER_DELTA = {'crop+flip+PCA': -1.0}  # "reduces the top-1 error rate by over 1%".
UNTESTABLE = {'crop+flip+PCA': 'grey images have no colour for PCA lighting to perturb'}


def get_hyper(h, base):
  crop_flip = {'random_crop': True, 'pad_crop': base.pad_crop, 'random_flip': True}
  return h.product([h.zipit([h.sweep('label', ['crop+flip', 'none'])] + [
      h.sweep(f'config.{k}', [crop_flip[k], off]) for k, off in sweeps.NO_AUGMENTATION.items()
  ]), sweeps.overfit(h), sweeps.seeds(h)])
