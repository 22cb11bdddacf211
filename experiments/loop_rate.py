"""The training loop's rate against its bare step, in one process: time the step, run the loop, time the step again.

  python -m experiments.loop_rate [--config=configs/default.py] [--steps=750] [--log_every=50] [--data_dir=DIR]
                                  [--json=PATH]
 The step is timed as `experiments.benchmark` times it (the loop's own jitted step on a synthetic batch, launched as the
loop launches it: experiments/bench/step_runner.py), before and after the loop, so drift in the machine's speed shows as
the gap between the two. The loop is `train.train_and_evaluate` on the config's real data for `--steps` steps in a
temporary workdir, with neither periodic evaluation nor checkpoints, so its rate is the loop's training-window rate
(train/images_per_sec in the run's TensorBoard events: steps, batch reading, transfers, metric sums and logging). The
report gives the median window (the first, which holds compilation, left out) and its ratio to the mean of the two
step timings.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import jax

from alexnet import parallel
from alexnet import records
from alexnet import train
from alexnet.data import imaging
from experiments.bench import step_runner
from experiments.bench import timing
from experiments.sweep import sweep_file

flags.DEFINE_string('config', 'configs/default.py', 'A configs/*.py file.')
flags.DEFINE_integer('steps', 750, 'Loop steps (the default config: ~430 an epoch).')
flags.DEFINE_integer('log_every', 50, 'Steps per training window.')
flags.DEFINE_integer('step_timing', 25, 'Steps per repetition of each step timing (5 reps).')
flags.DEFINE_string('data_dir', os.path.expanduser('~/tensorflow_datasets'), 'Where the prepared datasets are.')
flags.DEFINE_string('json', '', 'Write the report here.')
flags.DEFINE_integer('gemm_size', 4096, 'Side of the square f32 matmul timed for the GEMM peak (4096 in every '
                     'published table).', lower_bound=1)
flags.register_multi_flags_validator(
    ['steps', 'log_every'], lambda f: f['steps'] >= 3 * f['log_every'],
    '--steps must hold at least three --log_every windows (the first is left out)')
FLAGS = flags.FLAGS


def loop_config():
  """The config for the loop: --steps steps in windows of --log_every, neither evaluation nor checkpoints inside."""
  config = sweep_file.load_config(FLAGS.config)
  config.data_dir = FLAGS.data_dir
  config.num_train_steps, config.log_every_steps = FLAGS.steps, FLAGS.log_every
  config.eval_every_steps = config.checkpoint_every_steps = FLAGS.steps + 1  # neither inside the loop.
  config.num_eval_batches = 1  # the one test evaluation at the end, kept short.
  return config


def loop_windows(config) -> tuple[list[float], float]:
  """(train/images_per_sec of every training window, wall seconds) of the loop run in a temporary workdir."""
  workdir = tempfile.mkdtemp(prefix='loop_rate_')
  try:
    start = time.perf_counter()
    train.train_and_evaluate(config, workdir)
    wall = time.perf_counter() - start
    _, rates = records.scalars(workdir)['train/images_per_sec']
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  return [float(r) for r in rates], wall


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  config = loop_config()
  jax.config.update('jax_num_cpu_devices', parallel.cpu_devices_per_process(config))
  logging.set_verbosity(logging.WARNING)
  image_shape = imaging.model_image_shape(config)
  step_rate = lambda: config.batch_size / statistics.median(
      step_runner.time_train_step(config, image_shape, FLAGS.step_timing, 5))

  before = step_rate()
  windows, wall = loop_windows(config)
  after = step_rate()
  machine = timing.machine('float32', FLAGS.gemm_size)

  loop = statistics.median(windows[1:])
  report = machine.as_json() | dict(
      config=FLAGS.config, steps=FLAGS.steps, step_img_per_sec_before=before, step_img_per_sec_after=after,
      loop_img_per_sec=loop, loop_windows=windows, loop_wall_seconds=wall, loop_vs_step=loop / ((before + after) / 2))
  print(f'\n{machine.header()}  {FLAGS.config}')
  print(f'step (benchmark) before the loop: {before:.0f} img/s, after: {after:.0f} img/s')
  print(f'loop: median of {len(windows) - 1} windows of {FLAGS.log_every} steps {loop:.0f} img/s '
        f'({min(windows[1:]):.0f}-{max(windows[1:]):.0f})')
  print(f"loop / step: {report['loop_vs_step']:.2f}x (against the mean of the two step timings)")
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump(report, f, indent=2)


if __name__ == '__main__':
  app.run(main)
