"""Runs a sweep: one `python -m alexnet.main` process and workdir per run, then tables and plots of the results.

  python -m experiments.sweep --sweep=experiments/sweeps/<name>.py --workdir=DIR [--jobs=N] [--dry_run]
                              [--base=configs/<other>.py] [--schedule=short|full] [--runs_dir=DIR2] [--seeds=N]
  python -m experiments.sweep --sweep=experiments/sweeps/lrn.py,experiments/sweeps/pooling.py --workdir=DIR
  python -m experiments.sweep --sweep=... --workdir=DIR --launcher=slurm [--slurm=gpus_per_node=1,timeout_min=600]

Several sweep files (comma-separated) run in one queue; each one's results go to DIR/<sweep name>/.

A sweep file (experiments/sweeps/*.py) defines `BASE` (a config file) and `get_hyper(h, base)`, which returns the
points as config overrides built with experiments/sweep/hyper.py (`h.product`, `h.sweep`, `h.zipit`, ...); `base` is the
base config, so a point may be derived from it (the half-width net halves the base's widths). A point's `config.seed`
values are its seeds; everything else identifies the point.

- Each run goes to `<runs_dir>/<slug>/`, the slug being the fields that differ from the base config plus the seed
  (`lrn=none,seed=1`; the base itself is `base,seed=0`), so several sweeps sharing a runs_dir run a common point once.
- A run whose summary.json exists is skipped; an interrupted one resumes from its checkpoints; a failed one is reported
  with its log's last lines and the sweep goes on, exiting non-zero at the end. A runs_dir entry made from a different
  config is refused, never silently reused.
- `--schedule=short` (default) applies the sweep file's `SHORT` overrides (a schedule sized for this project's 2-core
  CPU machine); `full` runs the base config's own schedule (GPU hosts).
- `--jobs=N` runs N at once, each on its own share of this machine's accelerators (one GPU per job) or CPU cores.
- `--launcher=slurm` submits each run that is not finished as a SLURM job instead (slurm_jobs.py, through
  submitit), the same skips, refusals and report; `--slurm=key=value,...` sets the jobs' resources.

Writes DIR/results.csv (a row per run, with the commit it ran at), DIR/results.md (a row per point: mean +- std over
seeds, n, and its contrast with the reference point paired by seed: mean difference, 95% interval, p values, minimum
detectable effect), DIR/test_error.png, DIR/minival_curves.png, DIR/train_curves.png. The study's table, adjusted
across questions and with verdicts, is experiments.study's. The pieces, in this package: sweep_file.py (what a sweep
file declares), plan.py, local.py and slurm_jobs.py (the launchers), report.py and plots.py, in one queue by
run_queue.py.
"""
from __future__ import annotations

import sys

from absl import app
from absl import flags
from absl import logging

from experiments.sweep import options
from experiments.sweep import run_queue
from experiments.sweep import sweep_file

flags.DEFINE_string('sweep', None, 'A sweep file, experiments/sweeps/<name>.py, or several, comma-separated.')
options.define('Where results.csv, results.md and the plots go (and the runs, unless --runs_dir or the sweep '
               "file's RUNS_DIR).")
flags.mark_flags_as_required(['sweep'])
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)  # TensorBoard's event reader logs every file it opens.
  try:
    _, failed = run_queue.run_sweep(FLAGS.sweep, **options.run_kwargs(FLAGS))
  except sweep_file.SweepFileError as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    sys.exit(2)
  if failed:
    print(f"{len(failed)} runs failed: {', '.join(r.slug for r in failed)}", flush=True)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
