"""The training loop's rate against its bare step, in one process: time the step, run the loop, time the step again.

  python -m experiments.loop_rate [--config=configs/default.py] [--steps=750] [--log_every=50] [--data_dir=DIR]
                                  [--json=PATH]

The step is timed as `experiments.benchmark` times it (the loop's own jitted step on a synthetic batch, launched as
the loop launches it), before and after the loop, so drift in the machine's speed shows as the gap between the two.
The loop is `train.train_and_evaluate` on the config's real data for `--steps` steps in a temporary workdir, with
neither periodic evaluation nor checkpoints, so its rate is the training-window rate it writes to TensorBoard
(train/images_per_sec: steps, batch reading, transfers, metric sums and logging). The report gives the median window
(the first, which holds compilation, left out) and its ratio to the mean of the two step timings.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', default='configs/default.py')
  parser.add_argument('--steps', type=int, default=750, help='loop steps (the default config: ~430 an epoch)')
  parser.add_argument('--log_every', type=int, default=50, help='steps per training window')
  parser.add_argument('--step_timing', type=int, default=25, help='steps per repetition of each step timing (5 reps)')
  parser.add_argument('--data_dir', default=os.path.expanduser('~/tensorflow_datasets'))
  parser.add_argument('--json', default='')
  parser.add_argument('--gemm_size', type=int, default=4096,
                      help='side of the square f32 matmul timed for the GEMM peak (4096 in every published table)')
  args = parser.parse_args(argv)
  if args.steps < 3 * args.log_every:
    parser.error('--steps must hold at least three --log_every windows (the first is left out)')
  return args


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  from alexnet import main as cli  # pylint: disable=g-import-not-at-top
  from experiments import benchmark, runs, sweep  # pylint: disable=g-import-not-at-top
  config = sweep.load_module(args.config).get_config()
  config.data_dir = args.data_dir
  config.num_train_steps, config.log_every_steps = args.steps, args.log_every
  config.eval_every_steps = config.checkpoint_every_steps = args.steps + 1  # neither inside the loop.
  config.num_eval_batches = 1  # the one test evaluation at the end, kept short.
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update('jax_num_cpu_devices', cli._cpu_devices_per_process(config, 1))  # pylint: disable=protected-access
  from absl import logging  # pylint: disable=g-import-not-at-top
  from alexnet import train  # pylint: disable=g-import-not-at-top
  from alexnet.data import imaging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)

  image_shape = imaging.model_image_shape(config)
  step_rate = lambda: config.batch_size / statistics.median(
      benchmark.time_train_step(config, image_shape, args.step_timing, 5))

  before = step_rate()
  workdir = tempfile.mkdtemp(prefix='loop_rate_')
  try:
    start = time.perf_counter()
    train.train_and_evaluate(config, workdir)
    wall = time.perf_counter() - start
    windows = [float(x) for x in runs.scalars(workdir)['train/images_per_sec'][1]]
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  after = step_rate()

  loop = statistics.median(windows[1:])
  report = dict(date=time.strftime('%Y-%m-%d'), machine=f'{benchmark.cpu_model()}, {os.cpu_count()} cores',
                peak_gflops=benchmark.gemm_peak('float32', args.gemm_size), config=args.config, steps=args.steps,
                step_img_per_sec_before=before, step_img_per_sec_after=after, loop_img_per_sec=loop,
                loop_windows=windows, loop_wall_seconds=wall, loop_vs_step=loop / ((before + after) / 2))
  print(f"\n{report['date']}  {report['machine']}  GEMM peak {report['peak_gflops']:.0f} GFLOP/s  {args.config}")
  print(f'step (benchmark) before the loop: {before:.0f} img/s, after: {after:.0f} img/s')
  print(f'loop: median of {len(windows) - 1} windows of {args.log_every} steps {loop:.0f} img/s '
        f'({min(windows[1:]):.0f}-{max(windows[1:]):.0f})')
  print(f"loop / step: {report['loop_vs_step']:.2f}x (against the mean of the two step timings)")
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(report, f, indent=2)
  return report


if __name__ == '__main__':
  main()
