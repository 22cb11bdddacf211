"""A sweep's plan: its runs, each a config (the base, the schedule's overrides, the point's) with a workdir and the
command that makes it (`python -m alexnet.main`, or the program the sweep file names as ENTRY).
 A sweep file (experiments/sweeps/*.py) defines `BASE` (a config file) and `get_hyper(h, base)`, which returns the
points as config overrides built with experiments/sweep/hyper.py; a point's `config.seed` values are its seeds,
everything else identifies the point. Each run goes to `<runs_dir>/<slug>/`, the slug being the fields that differ from
the base
config plus the seed (`lrn=none,seed=1`; the base itself is `base,seed=0`), so several sweeps sharing a runs_dir run a
common point once.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
from typing import Any

import ml_collections

from alexnet import validation
from configs import imagenet
from experiments.sweep import hyper
from experiments.sweep import sweep_file


@dataclasses.dataclass
class Run:
  point: str                 # the point's label, else the fields that differ from the base ('base' when none).
  seed: int
  diff: dict[str, Any]       # field -> value, the fields that differ from the base, seed excluded.
  overrides: dict[str, Any]  # field -> value, everything passed on the command line.
  config: ml_collections.ConfigDict
  workdir: str
  entry: str = 'alexnet.main'  # the module the run's command executes (the sweep file's ENTRY).

  @property
  def slug(self) -> str:
    return os.path.basename(self.workdir)


def format_value(value: Any) -> str:
  """A config value as slugs and results.csv write it: tuples joined by '-', floats by %g."""
  if isinstance(value, (tuple, list)):
    return '-'.join(format_value(v) for v in value)
  return f'{value:g}' if isinstance(value, float) else str(value)


def flag_value(value: Any) -> str:
  """How config_flags reads a value back: tuples as '(a,b)', floats by repr, the rest by str."""
  if isinstance(value, (tuple, list)):
    return '(' + ','.join(flag_value(v) for v in value) + (',)' if len(value) == 1 else ')')
  return repr(value) if isinstance(value, float) else str(value)


def point_slug(diff: dict[str, Any]) -> str:
  """The fields that differ from the base, as a folder name ('base' when none); long ones end in a hash."""
  slug = re.sub(r'[^A-Za-z0-9=,._-]', '_', ','.join(f'{k}={format_value(v)}' for k, v in sorted(diff.items()))
                or 'base')
  return slug if len(slug) <= 110 else f'{slug[:90]}-{hashlib.md5(slug.encode()).hexdigest()[:8]}'


def slugify(diff: dict[str, Any], seed: int) -> str:
  return f'{point_slug(diff)},seed={seed}'


def _as_json(config: ml_collections.ConfigDict) -> dict:
  return json.loads(config.to_json_best_effort())


def _resolve(reference: ml_collections.ConfigDict, overrides: dict[str, Any]) -> ml_collections.ConfigDict:
  config = reference.copy_and_resolve_references()
  for field, value in overrides.items():
    if field not in config:
      raise sweep_file.SweepFileError(f'the sweep sets config.{field}, which the base config does not have')
    setattr(config, field, tuple(value) if isinstance(value, list) else value)
  return config


def plan(module, base: ml_collections.ConfigDict, schedule: str, runs_dir: str, seeds: int = 0) -> list[Run]:
  """The sweep's runs: each point's overrides on top of the schedule's, resolved against the base config; with
  `seeds` > 0, only the runs of the sweep's first `seeds` seeds."""
  common = dict(sweep_file.setting(module, 'SHORT')) if schedule == 'short' else {}
  reference = base.copy_and_resolve_references()
  with reference.unlocked():
    reference.update(common)
  reference_json = _as_json(reference)
  runs, seen = [], set()
  try:
    points = module.get_hyper(hyper, base.copy_and_resolve_references())
  except ValueError as e:  # hyper's own errors: a field set twice in a point, zipped sweeps of unequal lengths.
    raise sweep_file.SweepFileError(f"{getattr(module, '__file__', module)}: get_hyper: {e}") from None
  for point in points:
    point = dict(point)
    label = point.pop(hyper.LABEL, None)
    overrides = dict(common) | {key[len(hyper.PREFIX):]: value for key, value in point.items()}
    config = _resolve(reference, overrides)
    resolved = _as_json(config)
    diff = {k: getattr(config, k) for k in resolved if k != 'seed' and resolved[k] != reference_json[k]}
    run = Run(label or point_slug(diff), config.seed, diff, overrides, config,
              os.path.join(runs_dir, slugify(diff, config.seed)), sweep_file.setting(module, 'ENTRY'))
    if run.slug in seen:
      raise sweep_file.SweepFileError(f'two points of the sweep resolve to the same run {run.slug}')
    seen.add(run.slug)
    runs.append(run)
  if seeds > 0:
    kept = list(dict.fromkeys(r.seed for r in runs))[:seeds]
    runs = [r for r in runs if r.seed in kept]
  return runs


def command(run: Run, base_path: str) -> list[str]:
  return [sys.executable, '-m', run.entry, f'--config={base_path}', f'--workdir={run.workdir}'] + [
      f'--config.{k}={flag_value(v)}' for k, v in run.overrides.items()]


def check_reusable(run: Run) -> str | None:
  """None when the run's workdir is new or was made from the same config (where it ran aside, its config's name, and
  fields added since at their defaults: validation.differing_fields); else why not."""
  path = os.path.join(run.workdir, 'config.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    existing = json.load(f)
  differing = validation.differing_fields(existing, run.config, validation.EXECUTION_FIELDS | {'config_name'},
                                         imagenet.get_config())
  if differing:
    return f'{run.workdir} holds a run of another config (fields {differing}); remove it or use another --runs_dir'
  return None
