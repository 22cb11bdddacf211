"""A run's checkpoints, WORKDIR/checkpoints, through orbax's CheckpointManager: each step holds the train state, a
JSON meta (what the run carries across resumes) and the data iterator's state (grain's own orbax handler, one entry
per process). Orbax writes a step to a temporary directory and renames it when complete, so a run killed at any
moment resumes from the last complete step. Also: another run's parameters mapped onto this net (config.init_from)."""
from __future__ import annotations

import os
from typing import Any

from absl import logging
import grain
import jax
import numpy as np
import orbax.checkpoint as ocp

from alexnet import validation


def directory(workdir: str) -> str:
  return os.path.abspath(os.path.join(workdir, 'checkpoints'))


def _reader(workdir: str, item_handlers=None) -> ocp.CheckpointManager:
  """A manager that reads `workdir`'s checkpoints and creates nothing."""
  return ocp.CheckpointManager(directory(workdir), item_handlers=item_handlers,
                               options=ocp.CheckpointManagerOptions(create=False))


def latest_step(workdir: str) -> int | None:
  """The latest complete checkpoint's step in `workdir`; None when it has none."""
  with _reader(workdir) as manager:
    return manager.latest_step()


def restore_state(workdir: str, step: int | None = None) -> tuple[dict, dict]:
  """(state, meta) from the latest checkpoint in `workdir` (or `step`'s) as a dict of NumPy arrays, whatever devices
  and processes it was saved from; meta holds the minival history and elapsed seconds."""
  manager = _reader(workdir, {'state': ocp.PyTreeCheckpointHandler(), 'meta': ocp.JsonCheckpointHandler()})
  with manager:
    step = manager.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f'no checkpoint under {directory(workdir)}')
    as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray),
                            manager.item_metadata(step)['state'].tree)
    restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(restore_args=as_numpy),
                                                             meta=ocp.args.JsonRestore()))
  return restored.state, restored.meta


class Checkpoints:
  """The checkpoints a training run writes and resumes from; `max_to_keep` of them are kept."""

  def __init__(self, workdir: str, max_to_keep: int):
    self.directory = directory(workdir)
    self._manager = ocp.CheckpointManager(self.directory, options=ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True, cleanup_tmp_directories=True))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, meta: dict, batches: grain.DatasetIterator) -> None:
    """Starts writing checkpoint `step` (the arrays are written on orbax's threads)."""
    self._manager.save(step, force=True, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta),
        data=grain.checkpoint.CheckpointSave(batches)))

  def restore(self, like: Any) -> tuple[Any, dict]:
    """(state, meta) from the latest checkpoint, the state laid out like `like` (its shapes, dtypes, shardings)."""
    abstract_state = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    restored = self._manager.restore(self.latest_step(), args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
    return restored.state, restored.meta

  def restore_iterator(self, batches: grain.DatasetIterator) -> bool:
    """Sets `batches` to the state the latest checkpoint saved for this process; False (and `batches` untouched)
    when it holds none for this process layout (written before iterators were saved, or by another number of
    processes)."""
    step = self.latest_step()
    try:
      self._manager.restore(step, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(batches)))
    except (KeyError, ValueError) as e:  # orbax: no 'data' item; grain: none saved by this process layout.
      logging.warning('checkpoint %d has no data iterator state for this process (%s)', step, e)
      return False
    return True

  def wait_until_finished(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()


def init_from_params(source: Any, params: Any, init_from: str) -> Any:
  """`params` (arrays or shapes) with each layer taken from `source` (the params of config.init_from's checkpoint)
  where the shapes match. fc8 keeps its fresh initialisation when num_classes differs; conv1's kernels of a grey
  (one-channel) net are spread over three channels (each w / 3: the colour net first sees the image's grey level).
  Any other difference raises ConfigError."""
  flat = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(source)}

  def leaf(path, new):
    key, old = jax.tree_util.keystr(path), flat.get(jax.tree_util.keystr(path))
    if old is not None and old.shape == new.shape:
      return np.asarray(old, new.dtype)
    if old is not None and "'fc8'" in key and old.shape[:-1] == new.shape[:-1]:
      logging.info('init_from: %s re-initialised (%s classes, not %s)', key, new.shape[-1], old.shape[-1])
      return new
    if old is not None and "'conv1'" in key and 'kernel' in key and old.shape[-2] == 1 and new.shape[-2] == 3 \
        and old.shape[:-2] == new.shape[:-2] and old.shape[-1] == new.shape[-1]:
      logging.info('init_from: %s spread from one input channel over three', key)
      return np.repeat(np.asarray(old, new.dtype) / 3, 3, axis=-2)
    raise validation.ConfigError(
        f'config.init_from={init_from!r}: params{key} is {None if old is None else tuple(old.shape)}, this net needs '
        f'{tuple(new.shape)} (only fc8, for another num_classes, may differ)')

  return jax.tree_util.tree_map_with_path(leaf, params)


def source_params(init_from: str, abstract_params: Any) -> Any:
  """The params of `init_from`'s latest checkpoint, checked against `abstract_params` (this net's shapes: ConfigError
  where `init_from_params` could not map them)."""
  source = restore_state(init_from)[0]['params']
  init_from_params(source, abstract_params, init_from)
  return source
