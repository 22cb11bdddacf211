"""Input pipeline throughput alone (no model): host reading + device augmentation, in images/s.

  python -m experiments.input_throughput --config=configs/default.py [--batches=50]

Run it per dataset config and compare with the train step's images/s (the training log, experiments/benchmark.py):
the input keeps up when its rate is well above the model's.
"""
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags

from alexnet import input_pipeline

config_flags.DEFINE_config_file('config', None, 'A configs/*.py file.', lock_config=True)
flags.DEFINE_integer('batches', 50, 'Batches to time (after 2 warm-up batches).')
flags.mark_flags_as_required(['config'])


def measure(config, num_batches: int) -> dict[str, float]:
  start = time.perf_counter()
  split = input_pipeline.open_split(config, config.train_split)
  stats = {k: jnp.asarray(v) for k, v in input_pipeline.cached_statistics(split, config).items()}
  open_seconds = time.perf_counter() - start
  batches = input_pipeline.train_batches(split, config, start_step=0)
  for _ in range(2):
    next(batches)
  start = time.perf_counter()
  host = [next(batches) for _ in range(num_batches)]
  host_rate = num_batches * config.batch_size / (time.perf_counter() - start)
  augment = jax.jit(lambda images, rng: input_pipeline.augment_train(images, rng, stats, config))
  device_batches = [jnp.asarray(b['image']) for b in host]
  jax.block_until_ready(augment(device_batches[0], jax.random.key(0)))
  start = time.perf_counter()
  for i, images in enumerate(device_batches):
    out = augment(images, jax.random.key(i))
  jax.block_until_ready(out)
  device_rate = num_batches * config.batch_size / (time.perf_counter() - start)
  return {'open_and_stats_seconds': open_seconds, 'host_images_per_sec': host_rate,
          'augment_images_per_sec': device_rate}


def main(argv):
  del argv
  config = flags.FLAGS.config
  result = measure(config, flags.FLAGS.batches)
  print(f"{config.config_name} ({config.dataset}, batch {config.batch_size}): open + statistics "
        f"{result['open_and_stats_seconds']:.1f} s; host reading {result['host_images_per_sec']:,.0f} img/s; "
        f"device augmentation {result['augment_images_per_sec']:,.0f} img/s")


if __name__ == '__main__':
  app.run(main)
