"""Section 5: positive initial biases. The paper sets the biases of conv2, conv4, conv5, fc6 and fc7 to 1 "to
accelerate the early stages of learning by providing the ReLUs with positive inputs"; Caffe's reference model uses
0.1 because 1 "gave flat loss".

Design (the second; docs/experiments.md): configs/proxy.py (the paper's per-layer init gain, 'paper_scaled', and
pixel-unit inputs: the regime the claim was made in) at a constant rate of 0.01 (the proxy's own, before any drop: the
same schedule for every arm, and no rule to fire), biases 1 / 0.1 / 0 on those layers, the first epoch only (the claim
is about the early stages), the training error logged every 10 steps, 15 seeds per arm, paired by seed. Metric, stated
before running: the mean logged training top-1 error over the first 250 steps (train_top1_error_to_250; lower =
faster early learning), the window in which the first design's curves differ; the whole epoch's mean is in the rows
beside it. The paper gives a sign and no number; at the first design's spread of the paired difference (1.5-2.2
points in this metric) 15 seeds detect about 1.7-2.4 points at the study's Holm level. The seeds are 5 to 19: seeds
0-4 made the first design's runs, whose curves chose the window, so the metric is read on runs that did not choose
it. Runs go to their own folder.

  python -m experiments.sweep --sweep=experiments/sweeps/init.py --workdir=runs/ablations/init --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/proxy.py'
TITLE = 'Initialisation: positive biases (Section 5)'
PAPER = ('Paper: biases of 1 "accelerate the early stages of learning" (no number given); Caffe\'s reference model '
         'uses 0.1 because 1 gave a flat loss.')
REFERENCE = 'biases 1'
EARLY_STEPS = 250
METRIC = f'train_top1_error_to_{EARLY_STEPS}'
PAPER_SIGN = {'biases 0': +1}  # the paper: without positive biases the early training error is higher.
ANCHORS = 'paper: biases 1 accelerate early learning (sign only); Caffe: biases 1 gave a flat loss, 0.1 used.'
RUNS_DIR = 'runs/ablations/init_early'
_SEEDS = tuple(range(5, 20))  # fresh seeds: 0-4 chose the window (above).
_EPOCH = {'schedule': 'constant', 'num_epochs': 1.0, 'log_every_steps': 10, 'eval_every_epochs': 0.25,
          'checkpoint_every_steps': 500}


def get_hyper(h, base):
  del base
  biases = h.zipit([h.sweep('label', ['biases 1', 'biases 0.1', 'biases 0']),
                    h.sweep('config.positive_bias', [1.0, 0.1, 0.0])])
  return h.product([biases, sweeps.fixed(h, _EPOCH), sweeps.seeds(h, _SEEDS)])
