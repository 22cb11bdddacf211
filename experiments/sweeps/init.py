"""Section 5: positive initial biases. The paper sets the biases of conv2, conv4, conv5, fc6 and fc7 to 1 "to
accelerate the early stages of learning by providing the ReLUs with positive inputs"; Caffe's reference model uses
0.1. Both are asked here on the base config's weight init (which trains), beside 0; one more point is the paper's
whole initialisation (weights N(0, 0.01), biases 1, input in pixel units, as in the paper)."""
from alexnet.model import POSITIVE_BIAS
from experiments.sweeps import SEEDS, SHORT  # pylint: disable=unused-import

BASE = 'configs/default.py'
TITLE = 'Initialisation: positive biases (Section 5)'
PAPER = ('Paper: biases of 1 "accelerate the early stages of learning" (no number given); Caffe\'s authors saw the '
         'loss stay flat with 1 and use 0.1.')
REFERENCE = 'biases 0.1'


def get_hyper(h, base):
  own = POSITIVE_BIAS[base.init] if base.positive_bias < 0 else base.positive_bias  # the base point's biases.
  biases = [own] + [b for b in (0.0, 0.1, 1.0) if b != own]
  inits = h.zipit([
      h.sweep('label', [f'biases {b:g}' + (' (base)' if b == own else '') for b in biases]
              + ['paper init: N(0, 0.01), biases 1, pixel units']),
      h.sweep('config.init', [base.init] * len(biases) + ['paper']),
      h.sweep('config.positive_bias', [base.positive_bias] + [b for b in biases[1:]] + [-1.0]),
      h.sweep('config.input_scale', [base.input_scale] * len(biases) + [1.0]),
  ])
  return h.product([inits, h.sweep('config.seed', SEEDS)])
