"""The training loop's own step on a synthetic batch, as a timed row (experiments/bench/timing.py) of a speed table.

The step is the program `alexnet.train` jits for the loop (augmentation, forward, backward, update, metric sums), and
it is launched as the loop launches it: waiting for each step where the loop waits (`train.wait_each_step`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from alexnet import optim
from alexnet import steps
from alexnet import train
from experiments.bench import timing


def synthetic_batch(config, image_shape) -> tuple[dict[str, np.ndarray], dict[str, jax.Array]]:
  """(host batch, dataset statistics): `config.batch_size` uint8 images of `image_shape`, stored at the crop size
  (crops, or pad-and-crops, of the whole image), random labels, and neutral statistics (zero means, unit PCA)."""
  rng = np.random.default_rng(0)
  batch = {'image': rng.integers(0, 256, (config.batch_size, *image_shape), dtype=np.uint8),
           'label': rng.integers(0, config.num_classes, config.batch_size).astype(np.int32)}
  channels = image_shape[-1]
  stats = {'mean_image': jnp.zeros(tuple(image_shape)), 'channel_mean': jnp.zeros(channels),
           'eigvals': jnp.ones(channels), 'eigvecs': jnp.eye(channels)}
  return batch, stats


def train_step_runner(config, image_shape):
  """(step_fn, sync) running the training loop's program for `config` on a synthetic batch of `image_shape`."""
  network = steps.build_network(config)
  tx = optim.make_optimizer(config, steps_per_epoch=1000)
  state, state_sharding = steps.init_state(config, network, tx, image_shape)
  step, _ = steps.jit_steps(config, network, tx, state_sharding)
  host_batch, stats = synthetic_batch(config, image_shape)
  batch = train.put_batch(host_batch, network.batch_sharding())
  holder = {'state': state, 'sums': steps.zero_sums()}
  wait = train.wait_each_step()

  def run():
    holder['state'], holder['sums'] = step(holder['state'], holder['sums'], batch, stats)
    if wait:
      jax.block_until_ready(holder['sums'])
    return holder['sums']

  return run, jax.block_until_ready


def time_train_step(config, image_shape, steps: int, reps: int) -> list[float]:
  """Seconds per training step of `config` (`train_step_runner`), one value per repetition."""
  step_fn, sync = train_step_runner(config, image_shape)
  return timing.time_steps(step_fn, steps, reps, sync)
