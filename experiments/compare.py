"""Split vs fused, one report: the paper's two towers against one fused tower and the paper's half-width one-GPU net.

  python -m experiments.compare --workdir=DIR [--base=configs/<name>.py] [--jobs=N] [--schedule=short|full]
                                [--runs_dir=DIR2] [--seeds=N] [--timing_steps=20] [--timing_reps=3]

Runs the towers sweep (experiments/sweeps/towers.py: every net over its seeds; finished runs are reused, so
`--runs_dir` can point at an ablation study's runs), then writes DIR/report.md with PNGs beside it:
- structure per image: parameters, forward multiply-accumulates, bytes exchanged between towers (alexnet.summary);
- measured training images/s on this machine, two towers on the (data, tower) mesh and on one device, the fused and
  the half-width net, timed one after the other in this process, with the CPU model and its f32 GEMM peak;
- minival and test errors, mean ± std over seeds, and the learning curves of all nets on one plot;
- the paper's Figure 3 for every two-tower run: conv1's kernels per tower with a colour-specificity number per tower
  (experiments/kernels.py; undefined on grey input, and the report says so).
"""
from __future__ import annotations

import os
import statistics
import sys
import time

from absl import app
from absl import flags
from absl import logging

from experiments import sweep

TOWERS_SWEEP = os.path.join(sweep.REPO, 'experiments', 'sweeps', 'towers.py')

flags.DEFINE_string('workdir', None, 'Where report.md and its PNGs go (and the runs, unless --runs_dir).')
flags.DEFINE_string('base', '', 'Base config file (default: the towers sweep\'s, configs/default.py).')
flags.DEFINE_enum('schedule', 'short', ['short', 'full'], 'As in experiments.sweep.')
flags.DEFINE_string('runs_dir', '', 'Where the runs are or go (default: --workdir).')
flags.DEFINE_integer('jobs', 1, 'Runs at once (experiments.sweep --jobs).')
flags.DEFINE_integer('seeds', 0, "Only the sweep's first N seeds (experiments.sweep --seeds); 0: all.")
flags.DEFINE_integer('timing_steps', 20, 'Timed training steps per repetition, per net.')
flags.DEFINE_integer('timing_reps', 3, 'Timing repetitions per net (median and best are reported).')
flags.DEFINE_integer('gemm_size', 4096,
                     'Side of the square f32 matmul timed for the GEMM peak (4096 in every published table).')


def structure(config) -> dict:
  from alexnet import summary  # pylint: disable=g-import-not-at-top
  rows = summary.layer_rows(config)
  return {'params': sum(r['params'] for r in rows), 'macs': sum(r['macs'] for r in rows),
          'exchange_bytes': sum(r['exchange_bytes'] for r in rows)}


def timings(nets: dict, steps: int, reps: int) -> list[dict]:
  """Training images/s of each net's config on synthetic batches: two towers on the mesh and on one device."""
  from alexnet import steps as steps_lib  # pylint: disable=g-import-not-at-top
  from alexnet.data import imaging  # pylint: disable=g-import-not-at-top
  from experiments import benchmark  # pylint: disable=g-import-not-at-top
  rows = []
  for label, config in nets.items():
    variants = [(label, config)]
    if config.num_towers > 1 and config.parallelism == 'mesh':
      one_device = config.copy_and_resolve_references()
      one_device.parallelism = 'single'
      mesh = dict(steps_lib.build_network(config).mesh.shape)
      variants = [(f"{label}, (data={mesh['data']}, tower={mesh['tower']}) mesh", config),
                  (f'{label}, one device', one_device)]
    for name, c in variants:
      times = benchmark.time_train_step(c, imaging.model_image_shape(c), steps, reps)
      rows.append({'net': name, 'img_per_sec': c.batch_size / statistics.median(times),
                   'best': c.batch_size / min(times), 'macs': structure(c)['macs']})
  return rows


def write_report(workdir: str, runs: list, timing_rows: list[dict], peak: float, cpu: str, command: str) -> str:
  from experiments import kernels  # pylint: disable=g-import-not-at-top
  module = sweep.load_module(TOWERS_SWEEP)
  rows = sweep.collect(runs, None)
  labels = sweep.points_in_order(rows) or list(dict.fromkeys(r.point for r in runs))
  first = {p: next(r for r in runs if r.point == p) for p in labels}
  lines = [f'# Split vs fused: {first[labels[0]].config.config_name} config', '',
           f'Made by `{command}` on {time.strftime("%Y-%m-%d")}; {cpu}.', '',
           '## Structure (per image, forward pass)', '',
           '| net | towers | parameters | multiply-accumulates | bytes exchanged between towers |',
           '|---|---|---|---|---|']
  for p in labels:
    s = structure(first[p].config)
    lines.append(f"| {p} | {first[p].config.num_towers} | {s['params']:,} | {s['macs']:,} | {s['exchange_bytes']:,} |")

  lines += ['', f'## Training speed on this machine (f32 GEMM peak measured in the same run: {peak:.0f} GFLOP/s)', '',
            f'Synthetic batches of {first[labels[0]].config.batch_size}, the whole training step (augmentation, '
            'forward, backward, update), median and best of the repetitions; nets timed one after the other in one '
            'process, so only ratios inside this table compare.', '',
            '| net | img/s (median) | img/s (best) | GFLOP/s | vs fused |', '|---|---|---|---|---|']
  fused = next((t['img_per_sec'] for t in timing_rows if t['net'].startswith('fused')), None)
  for t in timing_rows:
    ratio = f"{t['img_per_sec'] / fused:.2f}x" if fused else '-'
    lines.append(f"| {t['net']} | {t['img_per_sec']:.0f} | {t['best']:.0f} | "
                 f"{6 * t['macs'] * t['img_per_sec'] / 1e9:.1f} | {ratio} |")

  lines += ['', sweep.markdown(rows, module, 'Errors (minival selects, test reported)',
                               getattr(module, 'PAPER', '')), '',
            '## Learning curves', '', '![minival curves](minival_curves.png)', '',
            '![training curves](train_curves.png)', '', '## Figure 3: conv1 kernels per tower', '']
  split_runs = [r for r in runs if r.config.num_towers > 1 and r.slug in {row['run'] for row in rows}]
  specificities = []
  for run in split_runs:
    figure = kernels.figure3(run.workdir, os.path.join(workdir, f'figure3_{run.slug}.png'), f'{run.point}, '
                             f'seed {run.seed}')
    specificities.append((run, figure['colour_specificity']))
    lines += [f'![conv1 kernels, {run.slug}]({os.path.basename(figure["png"])})', '']
  if specificities and specificities[0][1] is None:
    lines += ['Colour specificity is undefined here: the input has one channel, so the kernels have no colour to '
              "specialise in, and this data cannot test the paper's finding (one tower colour-agnostic, the other "
              'colour-specific, "during every run"). Colour data (ImageNet, CIFAR-10) can: the same command with '
              '`--base` set to a colour config reports the number per tower.', '']
  elif specificities:
    towers = len(specificities[0][1])
    lines += ['Colour specificity per tower (0: grey kernels, 1: each kernel in one channel; experiments/kernels.py):',
              '', '| run | ' + ' | '.join(f'tower {t}' for t in range(towers)) + ' | most / least specific |',
              '|---|' + '---|' * (towers + 1)]
    for run, spec in specificities:
      lines.append(f'| {run.slug} | ' + ' | '.join(f'{s:.3f}' for s in spec)
                   + f' | {max(spec) / max(min(spec), 1e-12):.2f}x |')
  path = os.path.join(workdir, 'report.md')
  with open(path, 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return path


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update('jax_num_cpu_devices', 2)  # the timing's (1, 2) mesh; before JAX starts its backend.
  logging.set_verbosity(logging.WARNING)
  f = flags.FLAGS
  runs, failed = sweep.run_sweep(TOWERS_SWEEP, f.workdir, f.base, f.schedule, f.runs_dir, f.jobs, seeds=f.seeds)
  from experiments import benchmark  # pylint: disable=g-import-not-at-top
  nets = {}
  for run in runs:
    nets.setdefault(run.point, run.config)
  peak = benchmark.gemm_peak('float32', f.gemm_size)
  timing_rows = timings(nets, f.timing_steps, f.timing_reps)
  cpu = f'{benchmark.cpu_model()}, {os.cpu_count()} cores, {jax.devices()[0].platform}'
  command = 'python -m experiments.compare ' + ' '.join(sys.argv[1:])
  print(write_report(f.workdir, runs, timing_rows, peak, cpu, command))
  if failed:
    print(f"{len(failed)} runs failed: {', '.join(r.slug for r in failed)}")
    sys.exit(1)


if __name__ == '__main__':
  flags.mark_flags_as_required(['workdir'])
  app.run(main)
