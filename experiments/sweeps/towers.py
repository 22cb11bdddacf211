"""Section 3.2: two towers (the paper's two GPUs) against one fused tower and the paper's own one-GPU baseline.

The paper's baseline is "a net with half as many kernels in each convolutional layer trained on one GPU", where
footnote 2 keeps the last convolutional layer and the fully-connected layers at full width (ImageNet: conv
48-128-192-192-256, FC 4096-4096). The same rule is applied to whatever base config is given.

Design: configs/proxy.py at its own schedule, 5 seeds per arm; metric: test top-1 error. Every arm runs on the same
devices: the one-tower nets on the base's mesh with a tower axis of 1 (the devices become data parallel), so the speed
columns compare nets, not hardware.

  python -m experiments.sweep --sweep=experiments/sweeps/towers.py --workdir=runs/ablations/towers \
      --runs_dir=runs/ablations/runs --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'Towers (Section 3.2)'
PAPER = ('Paper (ILSVRC-2010): two towers reduce top-1 / top-5 error by 1.7 / 1.2 points against the half-width '
         'one-GPU net.')
REFERENCE = 'two towers'
PAPER_DELTA = {'half-width one tower': 1.7}
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
  return h.product([nets, sweeps.seeds(h)])
