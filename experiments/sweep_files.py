"""Loading sweep files (experiments/sweeps/*.py) and config files (configs/*.py) by path, and what a sweep file
declares: its points, its reference and the metric its contrasts are read in."""
from __future__ import annotations

import importlib.util
import os
import sys

import ml_collections

from experiments import hyper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWEEPS_DIR = os.path.join(REPO, 'experiments', 'sweeps')


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


def question(name: str):
  """The sweep file experiments/sweeps/<name>.py."""
  return load_module(os.path.join(SWEEPS_DIR, f'{name}.py'))


def planned_runs(module) -> int:
  """How many runs the sweep file defines (points times seeds)."""
  return len(module.get_hyper(hyper, load_config(module.BASE)))


def labelled_points(module) -> list[str]:
  """The labels of a sweep file's points, in its order (empty when its points carry none)."""
  if not hasattr(module, 'get_hyper'):
    return []
  points = module.get_hyper(hyper, load_config(module.BASE))
  return list(dict.fromkeys(p[hyper.LABEL] for p in points if hyper.LABEL in p))


def metric(module) -> str:
  """The results.csv column a sweep's contrasts compare (default: test top-1 error)."""
  return getattr(module, 'METRIC', 'test_top1_error')
