"""Split vs fused, one report: the paper's two towers against one fused tower and the paper's half-width one-GPU net.

  python -m experiments.compare --workdir=DIR [--base=configs/<name>.py] [--jobs=N] [--schedule=short|full]
                                [--runs_dir=DIR2] [--seeds=N] [--timing_steps=20] [--timing_reps=3]

Runs the towers sweep (experiments/sweeps/towers.py: every net over its seeds; finished runs are reused: on the
file's own base they are the ablation study's, in its RUNS_DIR, and with another --base in DIR, unless --runs_dir),
then writes DIR/report.md with PNGs beside it:
- structure per image: parameters, forward multiply-accumulates, bytes exchanged between towers (alexnet.summary);
- measured training images/s on this machine, two towers on the (data, tower) mesh and on one device, the fused and
  the half-width net, timed one after the other in this process, with the CPU model and its f32 GEMM peak;
- minival and test errors, mean ± std over seeds, and the learning curves of all nets on one plot;
- the paper's Figure 3 for every two-tower run: conv1's kernels per tower with a colour-specificity number per tower
  (experiments/figures/figure3.py; undefined on grey input, and the report says so).
"""
from __future__ import annotations

import os
import statistics
import sys

from absl import app
from absl import flags
from absl import logging
import jax

from alexnet import provenance
from alexnet import steps
from alexnet import summary
from alexnet.data import imaging
from experiments.bench import step_runner
from experiments.bench import timing
from experiments.figures import figure3
from experiments.sweep import options
from experiments.sweep import report
from experiments.sweep import run_queue
from experiments.sweep import sweep_file

TOWERS_SWEEP = os.path.join(sweep_file.SWEEPS_DIR, 'towers.py')
GREY_NOTE = ('Colour specificity is undefined here: the input has one channel, so the kernels have no colour to '
             "specialise in, and this data cannot test the paper's finding (one tower colour-agnostic, the other "
             'colour-specific, "during every run"). Colour data (ImageNet, CIFAR-10) can: the same command with '
             '`--base` set to a colour config reports the number per tower.')

options.define('Where report.md and its PNGs go.')
flags.DEFINE_integer('timing_steps', 20, 'Timed training steps per repetition, per net.')
flags.DEFINE_integer('timing_reps', 3, 'Timing repetitions per net (median and best are reported).')
flags.DEFINE_integer('gemm_size', 4096,
                     'Side of the square f32 matmul timed for the GEMM peak (4096 in every published table).')
FLAGS = flags.FLAGS


def structure(config) -> dict:
  rows = summary.layer_rows(config)
  return {'params': sum(r['params'] for r in rows), 'macs': sum(r['macs'] for r in rows),
          'exchange_bytes': sum(r['exchange_bytes'] for r in rows)}


def variants(label: str, config) -> list[tuple[str, object]]:
  """The net itself; a two-tower net on a mesh as two rows, on its (data, tower) mesh and on one device."""
  if config.num_towers == 1 or config.parallelism != 'mesh':
    return [(label, config)]
  one_device = config.copy_and_resolve_references()
  one_device.parallelism = 'single'
  mesh = dict(steps.build_network(config).mesh.shape)
  return [(f"{label}, (data={mesh['data']}, tower={mesh['tower']}) mesh", config), (f'{label}, one device', one_device)]


def timings(nets: dict, steps: int, reps: int) -> list[dict]:
  """Training images/s of each net's config on synthetic batches: two towers on the mesh and on one device."""
  rows = []
  for label, config in nets.items():
    for name, c in variants(label, config):
      times = step_runner.time_train_step(c, imaging.model_image_shape(c), steps, reps)
      rows.append({'net': name, 'img_per_sec': c.batch_size / statistics.median(times),
                   'best': c.batch_size / min(times), 'macs': structure(c)['macs']})
  return rows


def structure_lines(labels: list[str], first: dict) -> list[str]:
  lines = ['## Structure (per image, forward pass)', '',
           '| net | towers | parameters | multiply-accumulates | bytes exchanged between towers |',
           '|---|---|---|---|---|']
  for p in labels:
    s = structure(first[p].config)
    lines.append(f"| {p} | {first[p].config.num_towers} | {s['params']:,} | {s['macs']:,} | {s['exchange_bytes']:,} |")
  return lines


def speed_lines(timing_rows: list[dict], peak: float, batch_size: int) -> list[str]:
  lines = [f'## Training speed on this machine (f32 GEMM peak measured in the same run: {peak:.0f} GFLOP/s)', '',
           f'Synthetic batches of {batch_size}, the whole training step (augmentation, forward, backward, update), '
           'median and best of the repetitions; nets timed one after the other in one process, so only ratios inside '
           'this table compare.', '',
           '| net | img/s (median) | img/s (best) | GFLOP/s | vs fused |', '|---|---|---|---|---|']
  fused = next((t['img_per_sec'] for t in timing_rows if t['net'].startswith('fused')), None)
  for t in timing_rows:
    ratio = f"{t['img_per_sec'] / fused:.2f}x" if fused else '-'
    lines.append(f"| {t['net']} | {t['img_per_sec']:.0f} | {t['best']:.0f} | "
                 f"{6 * t['macs'] * t['img_per_sec'] / 1e9:.1f} | {ratio} |")
  return lines


def figure3_lines(workdir: str, runs: list, finished: set[str]) -> list[str]:
  """Figure 3 of every finished two-tower run, and the colour specificity per tower (or why it is undefined)."""
  lines = ['## Figure 3: conv1 kernels per tower', '']
  specificities = []
  for run in [r for r in runs if r.config.num_towers > 1 and r.slug in finished]:
    figure = figure3.draw(run.workdir, os.path.join(workdir, f'figure3_{run.slug}.png'),
                          f'{run.point}, seed {run.seed}')
    specificities.append((run, figure['colour_specificity']))
    lines += [f'![conv1 kernels, {run.slug}]({os.path.basename(figure["png"])})', '']
  if specificities and specificities[0][1] is None:
    lines += [GREY_NOTE, '']
  elif specificities:
    towers = len(specificities[0][1])
    lines += ['Colour specificity per tower (0: grey kernels, 1: each kernel in one channel; '
              'experiments/figures/figure3.py):',
              '', '| run | ' + ' | '.join(f'tower {t}' for t in range(towers)) + ' | most / least specific |',
              '|---|' + '---|' * (towers + 1)]
    for run, spec in specificities:
      lines.append(f'| {run.slug} | ' + ' | '.join(f'{s:.3f}' for s in spec)
                   + f' | {max(spec) / max(min(spec), 1e-12):.2f}x |')
  return lines


def made_at(version: dict) -> str:
  """The code that wrote the report, from provenance.code_version: 'commit abc1234', marked when the tree was dirty."""
  if version['commit'] is None:
    return 'outside a git checkout'
  return f'commit {provenance.commits([version])[0]}'


def ran_at(rows: list[dict]) -> str:
  """The commits the runs ran at, from their summaries."""
  commits = provenance.commits(rows)
  return ('commit ' if len(commits) == 1 else 'commits ') + ', '.join(commits)


def write_report(workdir: str, runs: list, timing_rows: list[dict], machine: timing.Machine, command: str) -> str:
  module = sweep_file.load(TOWERS_SWEEP)
  rows = report.collect(runs)
  labels = report.points_in_order(rows) or list(dict.fromkeys(r.point for r in runs))
  first = {p: next(r for r in runs if r.point == p) for p in labels}
  lines = [f'# Split vs fused: {first[labels[0]].config.config_name} config', '',
           f'Made by `{command}` on {machine.date}; {machine.cpu}, {jax.devices()[0].platform}; '
           f'{made_at(provenance.code_version(("alexnet", "configs", "experiments")))}'
           + (f'; the runs ran at {ran_at(rows)}.' if rows else '; no run has finished.'), '',
           'The verdicts, with p values adjusted across the whole ablation study, are in the study\'s table '
           '(docs/ablations/study.md, `python -m experiments.study`).', '']
  lines += structure_lines(labels, first) + ['']
  lines += speed_lines(timing_rows, machine.peak_gflops, first[labels[0]].config.batch_size)
  lines += ['', report.markdown(rows, module, 'Errors (minival selects, test reported)',
                                sweep_file.setting(module, 'PAPER')), '',
            '## Learning curves', '', '![minival curves](minival_curves.png)', '',
            '![training curves](train_curves.png)', '']
  lines += figure3_lines(workdir, runs, {row['run'] for row in rows})
  path = os.path.join(workdir, 'report.md')
  with open(path, 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return path


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  jax.config.update('jax_num_cpu_devices', 2)  # the timing's (1, 2) mesh; before JAX starts its backend.
  logging.set_verbosity(logging.WARNING)
  try:
    runs, failed = run_queue.run_sweep(TOWERS_SWEEP, **options.run_kwargs(FLAGS))
  except sweep_file.SweepFileError as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    sys.exit(2)
  if FLAGS.dry_run:
    return
  nets = {}
  for run in runs:
    nets.setdefault(run.point, run.config)
  machine = timing.machine('float32', FLAGS.gemm_size)
  timing_rows = timings(nets, FLAGS.timing_steps, FLAGS.timing_reps)
  command = 'python -m experiments.compare ' + ' '.join(sys.argv[1:])
  print(write_report(FLAGS.workdir, runs, timing_rows, machine, command))
  if failed:
    print(f"{len(failed)} runs failed: {', '.join(r.slug for r in failed)}")
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
