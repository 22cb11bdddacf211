"""What a sweep file (experiments/sweeps/*.py) may say, and loading it, or a config file (configs/*.py), by path.

A sweep file defines `get_hyper(h, base)` (its points: experiments/sweep/hyper.py) and the settings of SETTINGS, each
an upper-case module-level name; BASE is required, the others have the defaults below. Any other upper-case name is
refused when the file loads (a misspelled setting would otherwise be silently ignored); a file's own constants start
with an underscore.
"""
from __future__ import annotations

import importlib.util
import os
import sys

import ml_collections

from alexnet import provenance
from experiments.sweep import hyper

REPO = provenance.REPO
SWEEPS_DIR = os.path.join(REPO, 'experiments', 'sweeps')


# name: (default, what it says). Read through `setting`, never by getattr with a default of its own.
SETTINGS = {
    'BASE': (None, 'the base config file, configs/<name>.py (required)'),
    'TITLE': (None, "the heading of results.md (default: the file's name)"),
    'PAPER': ('', "the paper's claim, quoted under the heading"),
    'REFERENCE': (None, "the label of the point every other point is compared with, paired by seed"),
    'METRIC': ('test_top1_error', 'the results.csv column the contrasts compare'),
    'PAPER_DELTA': ({}, "the paper's effect per point, point - reference in the table's units"),
    'PAPER_SIGN': ({}, "the sign of the paper's effect per point, where it gives no number"),
    'ANCHORS': ('', "a line of context for the study's notes"),
    'UNTESTABLE': ({}, 'the points this data cannot test, each with the reason'),
    'MUST_OVERFIT': ({}, 'per point: the regime its runs must reach before its contrast is read'),
    'SHORT': ({}, "config overrides applied with --schedule=short"),
    'ENTRY': ('alexnet.main', 'the program each run is (python -m ENTRY --config=... --workdir=...)'),
    'RUNS_DIR': (None, 'where runs of its BASE go without --runs_dir (default: the workdir, or DIR/runs for several '
                       'files)'),
    'SLURM': ({}, 'SLURM resources per job (experiments/sweep/slurm_jobs.py)'),
    'SELECT': (None, 'the column whose lowest mean selects a point (a tuning sweep)'),
    'SELECT_WITHIN': (None, 'a config field, or a tuple of them: select once per value (or combination) of them'),
    'TRAIN_ERROR_TARGET': ((), 'training errors whose first step is reported (steps_to_<target>_train_error)'),
    'EARLY_STEPS': (0, 'a step: the mean training error up to it is reported (train_top1_error_to_<step>)'),
    'MUST_CONVERGE': (None, "points: every arm's training error over the last tenth of training must be within "
                            'this of the tenth before (mean over its runs) before the contrasts are read'),
    'EQUIVALENCE': ({}, 'per point: the margin (table units) of an equivalence test against the reference'),
}


class SweepFileError(ValueError):
  """A sweep or config file that is missing or does not load; the message (one line) says which and why."""


def load_module(path: str):
  """The Python file at `path` as a module; SweepFileError when it is missing, does not parse or fails on import."""
  if not os.path.isfile(path):
    raise SweepFileError(f'no such file: {path}')
  spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
  if spec is None:
    raise SweepFileError(f'{path} is not a Python file')
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except SyntaxError as e:
    raise SweepFileError(f'{path} does not parse: line {e.lineno}: {e.msg}') from None
  except Exception as e:  # pylint: disable=broad-except
    raise SweepFileError(f'{path} fails on import: {type(e).__name__}: {e}') from None
  return module


def load_config(path: str) -> ml_collections.ConfigDict:
  if REPO not in sys.path:
    sys.path.insert(0, REPO)
  return load_module(path if os.path.isabs(path) else os.path.join(REPO, path)).get_config()


def load(path: str):
  """The sweep file at `path`, its names checked against SETTINGS; SweepFileError (one line) otherwise."""
  module = load_module(path)
  unknown = sorted(n for n in vars(module) if n[0].isupper() and n not in SETTINGS)
  if unknown:
    raise SweepFileError(f"{path}: unknown setting {', '.join(unknown)} (a sweep file's settings: "
                         f"{', '.join(SETTINGS)}; its own constants start with _)")
  missing = [n for n, ok in (('BASE', hasattr(module, 'BASE')), ('get_hyper', callable(
      getattr(module, 'get_hyper', None)))) if not ok]
  if missing:
    raise SweepFileError(f"{path}: defines no {' and no '.join(missing)}")
  return module


def setting(module, name: str):
  """A sweep file's setting `name` (SETTINGS), or its default."""
  return getattr(module, name, SETTINGS[name][0])


def question(name: str):
  """The sweep file experiments/sweeps/<name>.py."""
  return load(os.path.join(SWEEPS_DIR, f'{name}.py'))


def labelled_points(module) -> list[str]:
  """The labels of a sweep file's points, in its order (empty when its points carry none)."""
  if not hasattr(module, 'get_hyper'):
    return []
  points = module.get_hyper(hyper, load_config(module.BASE))
  return list(dict.fromkeys(p[hyper.LABEL] for p in points if hyper.LABEL in p))


def metric(module) -> str:
  """The results.csv column a sweep's contrasts compare (default: test top-1 error)."""
  return setting(module, 'METRIC')
