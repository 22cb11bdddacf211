"""How the towers run: on a ('data', 'tower') device mesh, or all on one device.

Both paths call the same `model.towers_forward` and differ only in the exchange:
- mesh: `jax.shard_map` gives each device its slice of towers (tower variables are stacked on axis 0 and sharded over
  `tower`) and its slice of the batch (`data`); an exchange all-gathers the device's towers over `tower` and
  concatenates every tower's channels. Gradients of replicated variables are summed over `data` by shard_map's
  autodiff, so a loss that is a mean over the global batch gets exactly the single-device gradient.
- one device: every tower runs in a Python loop as separate convolutions; an exchange is a concatenation. No grouped
  convolution or vmap over towers: XLA:CPU runs those 6-12x slower (conv2 forward + backward: 4.9 s vs 0.84 s).
FC8 and the dropout before it act on the global batch outside the towers, since FC8 is not split.
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


def cpu_devices_per_process(config, num_processes: int = 1) -> int:
  """Virtual CPU devices one process makes for the config's mesh (accelerators are unaffected): an explicit axis asks
  for that many, a -1 tower axis for one device per tower, a -1 data axis for one row per process."""
  data = config.mesh_data // max(num_processes, 1) if config.mesh_data > 0 else 1
  tower = config.mesh_tower if config.mesh_tower > 0 else config.num_towers
  return max(data * tower, 1) if config.parallelism == 'mesh' else 1


def make_mesh(data: int, tower: int, devices=None) -> Mesh:
  """A (data, tower) mesh over the first data * tower devices (in process order: each process owns whole rows)."""
  devices = jax.devices() if devices is None else devices
  if data * tower > len(devices):
    raise ValueError(f'mesh (data={data}, tower={tower}) needs {data * tower} devices but {len(devices)} are '
                     'available')
  return Mesh(np.asarray(devices[:data * tower]).reshape(data, tower), (DATA_AXIS, TOWER_AXIS))


class Network:
  """AlexNet = towers + head, run on `mesh` (a (data, tower) Mesh) or, with mesh=None, on one device."""

  def __init__(self, tower: model_lib.Tower, head: model_lib.Head, dropout_rate: float, mesh: Mesh | None = None):
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
    logits, new_stats, _ = self._apply(variables, images, train, rng, capture_intermediates=False)
    return logits, new_stats

  def intermediates(self, variables: Any, images: jax.Array) -> tuple[jax.Array, list[dict[str, jax.Array]]]:
    """Logits and every tower's layer outputs (inference, single-device path): for summaries and tests."""
    logits, _, intermediates = Network(self.tower, self.head, self.dropout_rate)._apply(
        variables, images, False, None, capture_intermediates=True)
    return logits, intermediates

  def _apply(self, variables, images, train, rng, capture_intermediates):
    if train and self.dropout_rate > 0 and rng is None:
      raise ValueError('train=True with dropout needs an rng')
    keep = 1.0 - self.dropout_rate
    batch = images.shape[0]
    if train and self.dropout_rate > 0:
      rng6, rng7 = jax.random.split(rng)
      fc7_mask = jax.random.bernoulli(rng6, keep, (batch, self.tower.fc_features[0]))
      fc8_mask = jax.random.bernoulli(rng7, keep, (batch, self.tower.fc_features[1]))
    else:
      fc7_mask = fc8_mask = None
    tower_vars = {k: v['towers'] for k, v in variables.items()}
    if capture_intermediates:
      fc7, new_stats, intermediates = self._towers(tower_vars, images, fc7_mask, train, capture_intermediates=True)
    else:
      (fc7, new_stats), intermediates = self._towers(tower_vars, images, fc7_mask, train), None
    logits = self.head.apply({'params': variables['params']['head']},
                             model_lib.dropout(fc7, fc8_mask, self.dropout_rate))
    return logits, None if new_stats is None else {'towers': new_stats}, intermediates

  def _towers(self, tower_vars, images, fc7_mask, train, capture_intermediates=False):
    forward = functools.partial(model_lib.towers_forward, dropout_rate=self.dropout_rate, train=train)
    if self.mesh is None:
      return forward(self.tower, tower_vars, images, fc7_mask, exchange=lambda xs: jnp.concatenate(xs, axis=-1),
                     capture_intermediates=capture_intermediates)

    def exchange(xs):
      # Gather on a new leading axis, then concatenate channels here: gathering straight onto the channel axis makes
      # XLA:CPU lay the maps out channel-major, which slowed the LRN and pooling around it 3-5x.
      gathered = jax.lax.all_gather(jnp.stack(xs), TOWER_AXIS, axis=0, tiled=True)
      return jnp.concatenate(list(gathered), axis=-1)

    tower = self.tower.clone(bn_axis_name=DATA_AXIS) if self.tower.lrn == 'batchnorm' else self.tower
    per_device = lambda v, x, m: forward(tower, v, x, m, exchange=exchange)
    # With one data shard, tower variables count as split over `data` too, so their gradients need no sum over it
    # (XLA:CPU would still run that no-op all-reduce of every tower gradient).
    tower_spec = P((DATA_AXIS, TOWER_AXIS)) if self.mesh.shape[DATA_AXIS] == 1 else P(TOWER_AXIS)
    stats_spec = tower_spec if train and 'batch_stats' in tower_vars else None
    return jax.shard_map(
        per_device, mesh=self.mesh,
        in_specs=(tower_spec, P(DATA_AXIS), None if fc7_mask is None else P(DATA_AXIS)),
        out_specs=(P(DATA_AXIS, TOWER_AXIS), stats_spec))(tower_vars, images, fc7_mask)
