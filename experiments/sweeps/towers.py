"""Section 3.2: two towers (the paper's two GPUs) against one fused tower and the paper's own one-GPU baseline.

The paper's baseline is "a net with half as many kernels in each convolutional layer trained on one GPU", where
footnote 2 keeps the last convolutional layer and the fully-connected layers at full width (ImageNet: conv
48-128-192-192-256, FC 4096-4096). The same rule is applied to whatever base config is given.

Design (the second; docs/experiments.md): configs/proxy_drops.py, one schedule fixed in advance for every arm and seed
(x0.1 at epochs 8, 11, 14, the end at 17), 9 seeds per arm, paired by seed; metric: test top-1 error; every arm
must converge (MUST_CONVERGE). Two contrasts against the two towers:
- half-width one tower: the paper's 1.7 points, which 9 seeds can detect at the pilot's spread;
- fused: Deep Roots found no difference at equal width, a claim of equivalence, so beside the difference test an
  equivalence test (TOST) with a margin of +-0.5 points, fixed before running. At the pilot's spread 9 seeds cannot
  reach it (about 41 per arm would): the study's table then prints "equivalence not shown (±0.5 points)", which says
  nothing either way.
Every arm runs on the same devices: the one-tower nets on the base's mesh with a tower axis of 1 (the devices become
data parallel), so the speed columns compare nets, not hardware. The reference arm is shared with lrn.py and
pooling.py; the three run as one queue:

  python -m experiments.sweep --sweep=experiments/sweeps/towers.py,experiments/sweeps/lrn.py,\\
experiments/sweeps/pooling.py --workdir=runs/ablations --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy_drops.py'
TITLE = 'Towers (Section 3.2)'
PAPER = ('Paper (ILSVRC-2010): two towers reduce top-1 / top-5 error by 1.7 / 1.2 points against the half-width '
         'one-GPU net.')
REFERENCE = 'two towers'
PAPER_DELTA = {'half-width one tower': 1.7}
EQUIVALENCE = {'fused': 0.5}
MUST_CONVERGE = sweeps.CONVERGED
RUNS_DIR = sweeps.DROPS_RUNS_DIR
ANCHORS = ('paper: the half-width one-GPU net is 1.7 points worse; a retrained Caffe AlexNet with 2 groups vs none '
           'reached 58.16% vs 58.20% top-1 accuracy (Ioannou et al., "Deep Roots", CVPR 2017): no difference between '
           'split and fused at equal width.')


def half_width(conv_features):
  """Footnote 2: conv1-conv4 halved, conv5 kept."""
  return tuple(w // 2 for w in conv_features[:4]) + tuple(conv_features[4:])


def get_hyper(h, base):
  nets = h.zipit([
      h.sweep('label', ['two towers', 'fused', 'half-width one tower']),
      h.sweep('config.num_towers', [base.num_towers, 1, 1]),
      h.sweep('config.conv_features', [base.conv_features, base.conv_features, half_width(base.conv_features)]),
  ])
  return h.product([nets, sweeps.seeds(h, sweeps.DROPS_SEEDS)])
