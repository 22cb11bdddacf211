"""Pictures of a finished run: learning curves, and conv1's kernels per tower (the paper's Figure 3).

  python -m experiments.plot_run --workdir=runs/default [--out=runs/default/run.png]

Reads the run's TensorBoard events (train/eval scalars) and its latest checkpoint (conv1 kernels).
"""
from __future__ import annotations

import json
import os

from absl import app
from absl import flags
import jax
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
import orbax.checkpoint as ocp
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

flags.DEFINE_string('workdir', None, 'A run directory written by alexnet.main.')
flags.DEFINE_string('out', '', 'PNG path (default: <workdir>/run.png).')
flags.mark_flags_as_required(['workdir'])


def read_scalars(workdir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{tag: (steps, values)} from the run's TensorBoard events."""
  events = event_accumulator.EventAccumulator(workdir, size_guidance={event_accumulator.TENSORS: 0})
  events.Reload()
  scalars = {}
  for tag in events.Tags()['tensors']:
    points = events.Tensors(tag)
    values = [tensor_util.make_ndarray(p.tensor_proto) for p in points]
    if all(v.size == 1 and v.dtype.kind == 'f' for v in values):  # skip hparams and other non-scalar summaries
      scalars[tag] = (np.array([p.step for p in points]), np.array([float(v) for v in values]))
  return scalars


def conv1_kernels(workdir: str) -> np.ndarray:
  """[towers, 11, 11, C, width] from the latest checkpoint."""
  manager = ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, 'checkpoints')))
  state = manager.restore(manager.latest_step())
  return np.asarray(state['params']['towers']['conv1']['kernel'])


def kernel_grid(kernels: np.ndarray) -> np.ndarray:
  """One tower's kernels [k, k, C, n] as a grid image, each kernel scaled to [0, 1] (grey when C == 1)."""
  k, _, c, n = kernels.shape
  cols = int(np.ceil(np.sqrt(n)))
  rows = int(np.ceil(n / cols))
  grid = np.ones((rows * (k + 1), cols * (k + 1), 3))
  for i in range(n):
    w = kernels[..., i]
    w = (w - w.min()) / (w.max() - w.min() + 1e-12)
    w = np.repeat(w, 3, axis=-1) if c == 1 else w[..., :3]
    r, q = divmod(i, cols)
    grid[r * (k + 1):r * (k + 1) + k, q * (k + 1):q * (k + 1) + k] = w
  return grid


def plot(workdir: str, out: str) -> str:
  scalars = read_scalars(workdir)
  kernels = conv1_kernels(workdir)
  towers = kernels.shape[0]
  fig, axes = plt.subplots(1, 2 + towers, figsize=(5 * (2 + towers), 4))
  for tag, style in (('train/top1_error', '-'), ('eval/top1_error', 'o-'), ('eval/top5_error', 's--')):
    if tag in scalars:
      axes[0].plot(*scalars[tag], style, label=tag)
  axes[0].set(xlabel='step', ylabel='error', title='top-1 / top-5 error', ylim=(0, None))
  axes[0].legend()
  for tag in ('train/loss', 'eval/loss'):
    if tag in scalars:
      axes[1].plot(*scalars[tag], label=tag)
  if 'train/learning_rate' in scalars:
    rate = axes[1].twinx()
    rate.plot(*scalars['train/learning_rate'], 'k:', label='learning rate')
    rate.set_ylabel('learning rate')
  axes[1].set(xlabel='step', ylabel='loss', title='loss')
  axes[1].legend()
  for t in range(towers):
    axes[2 + t].imshow(kernel_grid(kernels[t]), interpolation='nearest')
    axes[2 + t].set(title=f'conv1 kernels, tower {t}', xticks=[], yticks=[])
  fig.tight_layout()
  fig.savefig(out, dpi=80)
  plt.close(fig)
  return out


def main(argv):
  del argv
  workdir = flags.FLAGS.workdir
  with open(os.path.join(workdir, 'config.json')) as f:
    config = json.load(f)
  # The checkpoint restores onto the same number of devices it was saved from.
  jax.config.update('jax_num_cpu_devices', config['mesh_data'] * config['mesh_tower'])
  print(plot(workdir, flags.FLAGS.out or os.path.join(workdir, 'run.png')))


if __name__ == '__main__':
  app.run(main)
