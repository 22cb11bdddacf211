"""Section 4.1: no augmentation; random crops and horizontal flips; and those plus PCA colour noise ("lighting")."""
from experiments.sweeps import SEEDS, SHORT  # pylint: disable=unused-import

BASE = 'configs/default.py'
TITLE = 'Data augmentation (Section 4.1)'
PAPER = ('Paper (ILSVRC-2012): PCA lighting reduces top-1 error by over 1 point; without crops and flips the net '
         'overfits substantially (no number given).')
REFERENCE = 'crop+flip'


def get_hyper(h, base):
  lighting = base.pca_lighting or 0.1
  return h.product([h.zipit([
      h.sweep('label', ['none', 'crop+flip', 'crop+flip+PCA']),
      h.sweep('config.random_crop', [False, True, True]),
      h.sweep('config.pad_crop', [0, base.pad_crop, base.pad_crop]),
      h.sweep('config.random_flip', [False, True, True]),
      h.sweep('config.pca_lighting', [0.0, 0.0, lighting]),
  ]), h.sweep('config.seed', SEEDS)])
