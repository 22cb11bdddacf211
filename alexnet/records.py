"""Reading what a run (`python -m alexnet.main --workdir=RUN`) left behind: summary, TensorBoard scalars, weights."""
from __future__ import annotations

import glob
import os

import ml_collections
import numpy as np

from alexnet import progress
from alexnet import run_summary


def finished(patterns) -> list[str]:
  """The run directories (each with a summary.json) that the paths or globs in `patterns` name, sorted, once each."""
  return sorted({d for pattern in patterns for d in glob.glob(pattern) if summary(d) is not None})


def summary(workdir: str) -> dict | None:
  """The run's summary.json (alexnet/run_summary.py says its fields), or None when the run has not finished."""
  return run_summary.read(workdir)


def scalars(workdir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{tag: (steps, values)} from the run's TensorBoard events (every segment of a resumed run)."""
  progress.use_tensorboard_without_tensorflow()
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top
  events = event_accumulator.EventAccumulator(workdir, size_guidance={event_accumulator.TENSORS: 0})
  events.Reload()
  out = {}
  for tag in events.Tags()['tensors']:
    points = events.Tensors(tag)
    values = [tensor_util.make_ndarray(p.tensor_proto) for p in points]
    if all(v.size == 1 and v.dtype.kind == 'f' for v in values):  # skip hparams and other non-scalar summaries
      out[tag] = (np.array([p.step for p in points]), np.array([float(v) for v in values]))
  return out


def minival_curve(workdir: str) -> tuple[np.ndarray, np.ndarray]:
  """(steps, minival top-1 error) from summary.json, which covers every segment of a resumed run."""
  history = summary(workdir)['minival_history']
  return np.array([h['step'] for h in history]), np.array([h['top1_error'] for h in history])


def drops(summary: dict) -> list[dict]:
  """The plateau rule's drops of a finished run (step, epoch, learning_rate): summary.json's lr_drops, or, for runs
  recorded before it was written, every fall of the rate between two minival evaluations of its history."""
  if 'lr_drops' in summary:
    return summary['lr_drops']
  per_epoch = summary['step'] / summary['epoch'] if summary.get('epoch') else 1.0
  history = summary.get('minival_history', [])
  return [{'step': b['step'], 'epoch': b['step'] / per_epoch, 'learning_rate': b['learning_rate']}
          for a, b in zip(history, history[1:]) if b['learning_rate'] < a['learning_rate']]


def train_curve(workdir: str) -> tuple[np.ndarray, np.ndarray]:
  """(steps, training top-1 error averaged over each logging window) from the TensorBoard events."""
  return scalars(workdir).get('train/top1_error', (np.zeros(0, int), np.zeros(0)))


def config(workdir: str) -> ml_collections.ConfigDict:
  """The config the run was made with (its config.json; fields added since at their defaults)."""
  from alexnet import evaluate  # pylint: disable=g-import-not-at-top
  return evaluate.load_config(workdir)


def state(workdir: str) -> dict:
  """The latest checkpoint's train state (step, params, batch_stats, ...) as NumPy arrays, whatever devices it was
  saved from."""
  from alexnet import checkpoint  # pylint: disable=g-import-not-at-top
  return checkpoint.restore_state(workdir)[0]


def params(workdir: str) -> dict:
  """The latest checkpoint's parameters as NumPy arrays."""
  return state(workdir)['params']
