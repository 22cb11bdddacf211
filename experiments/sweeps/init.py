"""Section 5: positive initial biases. The paper sets the biases of conv2, conv4, conv5, fc6 and fc7 to 1 "to
accelerate the early stages of learning by providing the ReLUs with positive inputs"; Caffe's reference model uses
0.1 because 1 "gave flat loss".

Design: configs/proxy.py (the paper's per-layer init gain, 'paper_scaled', and pixel-unit inputs: the regime the
claim was made in), biases 1 / 0.1 / 0 on those layers, the first epoch only (the claim is about the early stages),
the training error logged every 10 steps, 5 seeds per arm; metric: the training top-1 error averaged over the first
epoch (the area under its curve; lower = faster early learning). minival after the epoch is in results.md.

  python -m experiments.sweep --sweep=experiments/sweeps/init.py --workdir=runs/ablations/init \
      --runs_dir=runs/ablations/runs --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'Initialisation: positive biases (Section 5)'
PAPER = ('Paper: biases of 1 "accelerate the early stages of learning" (no number given); Caffe\'s reference model '
         'uses 0.1 because 1 gave a flat loss.')
REFERENCE = 'biases 1'
METRIC = 'train_top1_error_mean'
PAPER_SIGN = {'biases 0': +1}  # the paper: without positive biases the early training error is higher.
ANCHORS = 'paper: biases 1 accelerate early learning (sign only); Caffe: biases 1 gave a flat loss, 0.1 used.'
_EPOCH = {'num_epochs': 1.0, 'log_every_steps': 10, 'eval_every_epochs': 0.25, 'checkpoint_every_steps': 500}


def get_hyper(h, base):
  del base
  biases = h.zipit([h.sweep('label', ['biases 1', 'biases 0.1', 'biases 0']),
                    h.sweep('config.positive_bias', [1.0, 0.1, 0.0])])
  schedule = h.product([h.fixed(f'config.{k}', v) for k, v in _EPOCH.items()])
  return h.product([biases, schedule, sweeps.seeds(h)])
