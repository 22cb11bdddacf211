"""A sweep's command-line flags, defined once: experiments.sweep defines them with --sweep, experiments.compare
without it (its sweep is the towers file). `run_kwargs` hands them to run_queue.run_sweep."""
from __future__ import annotations

from absl import flags


def define(workdir_help: str) -> None:
  """Every flag that says where and how a sweep's runs go, but --sweep."""
  flags.DEFINE_string('workdir', None, workdir_help)
  flags.DEFINE_string('base', '', "Base config file; default: the sweep file's BASE.")
  flags.DEFINE_enum('schedule', 'short', ['short', 'full'],
                    "'short': the sweep's SHORT overrides; 'full': the base's own schedule.")
  flags.DEFINE_string('runs_dir', '', "Where the runs go (default: the sweep file's RUNS_DIR on its own base, else "
                      '--workdir, or DIR/runs for several sweeps); sweeps may share one.')
  flags.DEFINE_integer('jobs', 1, 'Runs at once, splitting the GPUs (one or more per job) or the CPU cores.')
  flags.DEFINE_bool('dry_run', False, 'List the runs and their workdirs; run nothing.')
  flags.DEFINE_integer('tail_lines', 20, "Lines of a failed run's log to show.")
  flags.DEFINE_integer('seeds', 0, "Only the sweep's first N seeds (a quick look; a finding needs >= 3); 0: all.")
  flags.DEFINE_enum('launcher', 'local', ['local', 'slurm'], "'local': processes on this machine (--jobs at a "
                    "time); 'slurm': one SLURM job per run, through submitit.")
  flags.DEFINE_list('slurm', [], 'SLURM job resources, key=value: cpus_per_task, gpus_per_node, timeout_min, '
                    "mem_gb, partition (over the sweep file's SLURM dict).")
  flags.mark_flags_as_required(['workdir'])


def run_kwargs(values: flags.FlagValues) -> dict:
  """The flags above as run_queue.run_sweep's keyword arguments."""
  return {'workdir': values.workdir, 'base_path': values.base, 'schedule': values.schedule,
          'runs_dir': values.runs_dir, 'jobs': values.jobs, 'dry_run': values.dry_run,
          'tail_lines': values.tail_lines, 'seeds': values.seeds, 'launcher': values.launcher,
          'slurm': tuple(values.slurm)}
