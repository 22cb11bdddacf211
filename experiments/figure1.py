"""Figure 1 (Section 3.1): the four-layer convolutional net with ReLU or tanh units, trained without regularisation,
its training error logged every step. configs/figure1.py says what the setting is and why.

  python -m experiments.figure1 --config=configs/figure1.py --workdir=DIR [--config.activation=tanh]
      [--config.learning_rate=0.1]

Writes DIR/config.json; TensorBoard events: train/top1_error (with `train_error='window'`, the mean error of the last
`train_error_window` batches, each measured before its update, at every step; with 'pass', the error on a fixed set
of `pass_examples` training images at log-spaced steps, the window beside it as train/window_top1_error),
train/batch_top1_error and train/loss at every step; and DIR/summary.json (minival and
test error after the last step, images/s, wall time, the commit it started at). A loss that stops being finite ends the
run there (summary.json: diverged_at_step). The sweep runner starts this program for the sweep files that name it
(ENTRY: experiments/sweeps/tune_figure1.py, tune_figure1_pass.py, relu.py). A run takes minutes and keeps no
checkpoint: an interrupted run starts again from step 0.
"""
from __future__ import annotations

from absl import app
from absl import flags
from ml_collections import config_flags

from experiments.figures import figure1


def define_flags() -> None:
  """The command line's flags, defined only when this module runs as a program (tests import it beside other
  programs that define --config)."""
  config_flags.DEFINE_config_file('config', None, 'configs/figure1.py, with --config.<field>=value overrides.')
  flags.DEFINE_string('workdir', None, 'Where config.json, the events and summary.json go.')
  flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  summary = figure1.train(flags.FLAGS.config, flags.FLAGS.workdir)
  print(f"{summary['step']} steps: minival top-1 error {100 * summary['minival_top1_error']:.2f}%, test "
        f"{100 * summary['top1_error']:.2f}%, {summary['wall_seconds'] / 60:.1f} min", flush=True)


if __name__ == '__main__':
  define_flags()
  app.run(main)
