"""Where the towers run: on a ('data', 'tower') device mesh, or all on one device; and the mesh itself.

Both paths give `model.forward` a `run_towers` that calls the same `model.towers_forward` and differ only in the
exchange:
- mesh: `jax.shard_map` gives each device its slice of towers (tower variables are stacked on axis 0 and sharded over
  `tower`) and its slice of the batch (`data`); an exchange all-gathers the device's towers over `tower` and
  concatenates every tower's channels. Gradients of replicated variables are summed over `data` by shard_map's
  autodiff, so a loss that is a mean over the global batch gets exactly the single-device gradient.
- one device: every tower runs in a Python loop as separate convolutions; an exchange is a concatenation. No grouped
  convolution or vmap over towers: XLA:CPU runs those slower (docs/performance.md).
The dropout masks and FC8 act on the global batch outside the towers (model.forward), since FC8 is not split.

The mesh's shape comes from the config here too: `resolved_mesh` fills -1 axes from the devices (`mesh_shape`), and
`make_mesh` lays the devices out.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from alexnet import model as model_lib

DATA_AXIS = 'data'
TOWER_AXIS = 'tower'


def mesh_shape(data: int, tower: int, num_towers: int, num_devices: int, devices_per_process: int | None = None
               ) -> tuple[int, int]:
  """(data, tower) with -1 axes filled from the devices: `tower` becomes the largest divisor of num_towers that fits
  in one process's devices (a tower exchange stays inside a host), `data` takes the rest. So one config runs on one
  GPU (1, 1), eight (4, 2), or four hosts of eight (16, 2)."""
  per_process = num_devices if devices_per_process is None else devices_per_process
  if tower == -1:
    tower = max(t for t in range(1, num_towers + 1) if num_towers % t == 0 and per_process % t == 0)
  if data == -1:
    data = max(num_devices // tower, 1)
  return data, tower


def resolved_mesh(config, num_devices: int, process_count: int = 1) -> tuple[int, int]:
  """The (data, tower) mesh the config asks for on `num_devices` devices over `process_count` processes: (1, 1) for
  parallelism='single', else config.mesh_data x config.mesh_tower with -1 axes filled (`mesh_shape`)."""
  if config.parallelism == 'single':
    return 1, 1
  return mesh_shape(config.mesh_data, config.mesh_tower, config.num_towers, num_devices,
                    num_devices // max(process_count, 1))


def cpu_devices_per_process(config, num_processes: int = 1) -> int:
  """Virtual CPU devices one process makes for the config's mesh (accelerators are unaffected): an explicit axis asks
  for that many, a -1 tower axis for one device per tower, a -1 data axis for one row per process."""
  data = config.mesh_data // max(num_processes, 1) if config.mesh_data > 0 else 1
  tower = config.mesh_tower if config.mesh_tower > 0 else config.num_towers
  return max(data * tower, 1) if config.parallelism == 'mesh' else 1


def make_mesh(data: int, tower: int, devices=None) -> Mesh:
  """A (data, tower) mesh over the first data * tower devices (in process order: each process owns whole rows)."""
  devices = jax.devices() if devices is None else devices
  # Kept beside validation.validate: meshes are also made directly (tests, benchmarks), where reshape's own error
  # would not say what is missing.
  if data * tower > len(devices):
    raise ValueError(f'mesh (data={data}, tower={tower}) needs {data * tower} devices but {len(devices)} are '
                     'available')
  return Mesh(np.asarray(devices[:data * tower]).reshape(data, tower), (DATA_AXIS, TOWER_AXIS))


def _concatenate(xs: list[jax.Array]) -> jax.Array:
  """One device's exchange: every tower is here, so it is a concatenation of their channels."""
  return jnp.concatenate(xs, axis=-1)


def _all_gather(xs: list[jax.Array]) -> jax.Array:
  """A mesh device's exchange: its towers' maps gathered from every device on the tower axis, channels concatenated.

  Gathered on a new leading axis, then concatenated here: gathering straight onto the channel axis makes XLA:CPU lay
  the maps out channel-major, which slows the LRN and pooling around it (docs/performance.md)."""
  gathered = jax.lax.all_gather(jnp.stack(xs), TOWER_AXIS, axis=0, tiled=True)
  return jnp.concatenate(list(gathered), axis=-1)


class Network:
  """AlexNet = towers + head, run on `mesh` (a (data, tower) Mesh) or, with mesh=None, on one device."""

  def __init__(self, tower: model_lib.Tower, head: model_lib.Head, dropout_rate: float, mesh: Mesh | None = None):
    # Kept beside validation.validate: a Network is also built on a mesh of the caller's making (tests, benchmarks).
    if mesh is not None and tower.num_towers % mesh.shape[TOWER_AXIS]:
      raise ValueError(f'num_towers={tower.num_towers} is not divisible by the tower axis ({mesh.shape[TOWER_AXIS]})')
    self.tower, self.head, self.dropout_rate, self.mesh = tower, head, dropout_rate, mesh

  def init(self, rng: jax.Array, image_shape) -> Any:
    return model_lib.init_variables(self.tower, self.head, rng, image_shape)

  def shardings(self, tree: Any) -> Any:
    """For variables (or any tree keyed like them): leaves under "towers" sharded on their stacked tower axis, all
    else replicated. None on one device."""
    if self.mesh is None:
      return None
    def spec(path, _):
      return NamedSharding(self.mesh, P(TOWER_AXIS) if any(getattr(k, 'key', None) == 'towers' for k in path) else P())
    return jax.tree_util.tree_map_with_path(spec, tree)

  def batch_sharding(self) -> NamedSharding | None:
    return None if self.mesh is None else NamedSharding(self.mesh, P(DATA_AXIS))

  def apply(self, variables: Any, images: jax.Array, *, train: bool = False, rng: jax.Array | None = None):
    """Returns (logits, new_batch_stats); new_batch_stats is None unless training with lrn='batchnorm'."""
    run_towers = self._on_one_device(train) if self.mesh is None else self._on_the_mesh(train)
    logits, new_stats, _ = model_lib.forward(self.tower, self.head, variables, images, run_towers,
                                             dropout_rate=self.dropout_rate, train=train, rng=rng)
    return logits, new_stats

  def intermediates(self, variables: Any, images: jax.Array) -> tuple[jax.Array, list[dict[str, jax.Array]]]:
    """Logits and every tower's layer outputs (inference, on one device): for summaries and tests."""
    logits, _, intermediates = model_lib.forward(
        self.tower, self.head, variables, images, self._on_one_device(False, capture_intermediates=True),
        dropout_rate=self.dropout_rate)
    return logits, intermediates

  def _on_one_device(self, train: bool, capture_intermediates: bool = False) -> model_lib.TowerRunner:
    return functools.partial(model_lib.towers_forward, self.tower, exchange=_concatenate,
                             dropout_rate=self.dropout_rate, train=train, capture_intermediates=capture_intermediates)

  def _on_the_mesh(self, train: bool) -> model_lib.TowerRunner:
    """towers_forward under shard_map: each device runs its towers on its slice of the batch."""
    tower = self.tower.clone(bn_axis_name=DATA_AXIS) if self.tower.lrn == 'batchnorm' else self.tower
    per_device = functools.partial(model_lib.towers_forward, tower, exchange=_all_gather,
                                   dropout_rate=self.dropout_rate, train=train)
    # With one data shard, tower variables count as split over `data` too, so their gradients need no sum over it
    # (XLA:CPU would still run that no-op all-reduce of every tower gradient).
    tower_spec = P((DATA_AXIS, TOWER_AXIS)) if self.mesh.shape[DATA_AXIS] == 1 else P(TOWER_AXIS)

    def run_towers(tower_variables, images, fc7_keep_mask):
      stats_spec = tower_spec if train and 'batch_stats' in tower_variables else None
      return jax.shard_map(
          per_device, mesh=self.mesh,
          in_specs=(tower_spec, P(DATA_AXIS), None if fc7_keep_mask is None else P(DATA_AXIS)),
          out_specs=(P(DATA_AXIS, TOWER_AXIS), stats_spec, None))(tower_variables, images, fc7_keep_mask)
    return run_towers
