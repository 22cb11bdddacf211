"""summary.json, the record a finished run leaves in its workdir: its fields, written and read here only.

Every training program writes it (alexnet.train, experiments.figure1's trainer) through `write`, with the fields of
FIELDS in that order and then its own (`extra`); sweeps, the study and the figures read it back through `read`. A run
without one has not finished (a sweep runs it again, resuming from its checkpoints).
"""
from __future__ import annotations

import json
import os
from typing import Any

FILENAME = 'summary.json'

# The fields every run's summary has, in the order they are written.
FIELDS = {
    'config_name': "the config's name (config.config_name)",
    'step': 'training steps done',
    'epoch': 'passes over the training split done (step * batch size / training examples)',
    'top1_error': 'test top-1 error, on test_split, after the last step (a fraction)',
    'top5_error': 'test top-5 error',
    'test_split': 'the split the test errors are measured on',
    'minival_top1_error': 'minival top-1 error after the last step, the number every selection reads',
    'minival_top5_error': 'minival top-5 error',
    'train_images_per_sec': 'training images per second over the run (alexnet.progress)',
    'wall_seconds': 'wall time of the run, every resumed segment added up',
    'commit': 'the git commit the run started at (alexnet.provenance; None outside a checkout)',
    'dirty': 'whether the code the run executes differed from that commit when it started',
    'minival_history': 'every minival evaluation: [{step, top1_error, ...}], in order',
}


def write(workdir: str, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
  """Writes `fields` (exactly FIELDS' keys) then `extra` to workdir/summary.json; returns what it wrote."""
  missing, unknown = set(FIELDS) - set(fields), set(fields) - set(FIELDS)
  if missing or unknown:
    raise ValueError(f'summary.json fields: missing {sorted(missing)}, not in the schema {sorted(unknown)} '
                     f'(alexnet/run_summary.py FIELDS; a program adds its own fields as extra)')
  clash = set(extra) & set(FIELDS)
  if clash:
    raise ValueError(f'summary.json: extra fields {sorted(clash)} are schema fields')
  summary = {**{k: fields[k] for k in FIELDS}, **extra}
  with open(os.path.join(workdir, FILENAME), 'w') as f:
    json.dump(summary, f, indent=2)
  return summary


def read(workdir: str) -> dict[str, Any] | None:
  """The run's summary, or None when it has not finished."""
  path = os.path.join(workdir, FILENAME)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)
