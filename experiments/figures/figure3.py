"""Figure 3's drawing and its number: conv1's kernels as one image per tower, and how colour-specific each tower is.

Section 6.1: "the kernels on GPU 1 are largely color-agnostic, while the kernels on GPU 2 are largely color-specific.
This kind of specialization occurs during every run". Colour specificity measures that: for a kernel w with C colour
channels, the share of its energy that is not common to its channels,

    s(w) = C / (C - 1) * ||w - g||^2 / ||w||^2,   g = the mean of w over its channels (broadcast back),

which is 0 for a grey kernel (the same in every channel) and 1 for a kernel that lives in one channel alone. A tower's
number is the mean over its kernels. On grey (one-channel) input it is undefined: the kernels have no colour to
specialise in, and the report says so. The command line: `python -m experiments.kernels --workdir=RUN`.
"""
from __future__ import annotations

import os

import numpy as np

from alexnet import records


def colour_specificity(kernels: np.ndarray) -> np.ndarray:
  """Per kernel, for kernels [k, k, C, n] (C >= 2): C/(C-1) * the energy share not common to the C channels."""
  c = kernels.shape[2]
  if c < 2:
    raise ValueError(f'colour specificity needs kernels with 2 or more input channels, got {c}')
  grey = kernels.mean(axis=2, keepdims=True)
  residual = np.square(kernels - grey).sum(axis=(0, 1, 2))
  total = np.square(kernels).sum(axis=(0, 1, 2))
  return c / (c - 1) * residual / np.maximum(total, 1e-30)


def tower_specificity(kernels: np.ndarray) -> list[float] | None:
  """Mean colour specificity of each tower's kernels [towers, k, k, C, n]; None for one-channel kernels."""
  if kernels.shape[3] < 2:
    return None
  return [float(colour_specificity(k).mean()) for k in kernels]


def kernel_grid(kernels: np.ndarray) -> np.ndarray:
  """One tower's kernels [k, k, C, n] as a grid image, each kernel scaled to [0, 1] (grey when C == 1)."""
  k, _, c, n = kernels.shape
  cols = int(np.ceil(np.sqrt(n)))
  rows = int(np.ceil(n / cols))
  grid = np.ones((rows * (k + 1), cols * (k + 1), 3))
  for i in range(n):
    w = kernels[..., i]
    w = (w - w.min()) / (w.max() - w.min() + 1e-12)
    w = np.repeat(w, 3, axis=-1) if c == 1 else w[..., :3]
    r, q = divmod(i, cols)
    grid[r * (k + 1):r * (k + 1) + k, q * (k + 1):q * (k + 1) + k] = w
  return grid


def conv1(workdir: str) -> np.ndarray:
  """conv1 kernels [towers, k, k, C, width per tower] from the run's latest checkpoint."""
  return np.asarray(records.params(workdir)['towers']['conv1']['kernel'])


def draw(workdir: str, out: str, title: str = '') -> dict:
  """Draws conv1 per tower to `out`; returns {'png', 'towers', 'colour_specificity' (None on grey input)}."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  kernels = conv1(workdir)
  specificity = tower_specificity(kernels)
  towers = kernels.shape[0]
  fig, axes = plt.subplots(1, towers, figsize=(4 * towers, 4.3), squeeze=False)
  for t in range(towers):
    number = ('colour specificity n/a (grey input)' if specificity is None
              else f'colour specificity {specificity[t]:.2f}')
    axes[0, t].imshow(kernel_grid(kernels[t]), interpolation='nearest')
    axes[0, t].set(title=f'tower {t}: {kernels.shape[-1]} kernels\n{number}', xticks=[], yticks=[])
  fig.suptitle(title or f'conv1 kernels per tower: {os.path.basename(os.path.normpath(workdir))}', fontsize=9)
  fig.tight_layout()
  fig.savefig(out, dpi=90)
  plt.close(fig)
  return {'png': out, 'towers': towers, 'colour_specificity': specificity}
