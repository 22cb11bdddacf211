"""Input pipeline throughput alone (no model): host reading (grain workers) and device augmentation, in images/s.

  python -m experiments.input_throughput --config=configs/imagenet.py --datasets=imagenet2012,imagenet2012_256 \
      --workers=1,2 [--batches=20] [--json=FILE] [--config.data_dir=DIR]

For each dataset and worker count: the host rate of the training batches (read, decode, Section 2's resize and centre
crop, batch) after the workers have started, and its share per worker; then the jitted augmentation (crops, flips,
PCA noise, mean subtraction) on the device. Compare with the train step's images/s (experiments/benchmark.py): the
input keeps up when its rate is above the model's.

The batches are those training reads: the training split less minival, checked against the config as training checks
it (validation.validate_data). A config the data cannot serve (fewer examples than minival and a batch) is one line,
`error: ...`, and exit status 2.
"""
from __future__ import annotations

import json
import os
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from alexnet import augment
from alexnet import validation
from alexnet.data import errors
from alexnet.data import order
from alexnet.data import sources
from alexnet.data import splits
from alexnet.data import statistics
from experiments.bench import timing

EXIT_BAD_INPUT = 2


def training_split(config) -> splits.Split:
  """The examples a run of `config` trains on; ConfigError or DataError (one line) when the data cannot serve it."""
  split = sources.open_split(config, config.train_split)
  validation.validate_data(config, split.num_examples, split.image_shape)
  return splits.training_subset(splits.hold_out_minival(split, config.minival_examples)[0], config)


def host_rate(split, config, workers: int, num_batches: int) -> tuple[float, list]:
  """Images/s of the training batches from `workers` grain processes (warm-up batches not timed)."""
  batches = order.iterate(order.train_dataset(split, config), workers)
  try:
    for _ in range(2):
      next(batches)
    start = time.perf_counter()
    kept = [next(batches) for _ in range(num_batches)]
    return num_batches * config.batch_size / (time.perf_counter() - start), kept
  finally:
    order.close_iterator(batches)


def augment_rate(batches: list, stats, config) -> float:
  augment_fn = jax.jit(lambda images, rng: augment.augment_train(images, rng, stats, config))
  device_batches = [jnp.asarray(b['image']) for b in batches]
  jax.block_until_ready(augment_fn(device_batches[0], jax.random.key(0)))
  start = time.perf_counter()
  for i, images in enumerate(device_batches):
    out = augment_fn(images, jax.random.key(i))
  jax.block_until_ready(out)
  return len(device_batches) * config.batch_size / (time.perf_counter() - start)


def measure(config, datasets: list[str], workers: list[int], num_batches: int) -> list[dict]:
  rows = []
  for dataset in datasets:
    config = config.copy_and_resolve_references()
    with config.unlocked():
      config.dataset = dataset
    split = training_split(config)
    kept = None
    for w in workers:
      rate, kept = host_rate(split, config, w, num_batches)
      rows.append({'dataset': dataset, 'workers': w, 'host_images_per_sec': rate,
                   'per_worker': rate / max(w, 1), 'image_shape': list(kept[0]['image'].shape[1:])})
      print(f'{dataset}: {w} worker(s): {rate:,.0f} img/s ({rate / max(w, 1):,.0f} per worker)', flush=True)
    stats = {k: jnp.asarray(v) for k, v in statistics.cached_statistics(split, config).items()}
    rows.append({'dataset': dataset, 'workers': 'device augmentation',
                 'host_images_per_sec': augment_rate(kept, stats, config)})
  return rows


def main(argv):
  del argv
  f = flags.FLAGS
  config, workers = f.config, [int(w) for w in f.workers]
  try:
    rows = measure(config, f.datasets or [config.dataset], workers, f.batches)
  except (validation.ConfigError, errors.DataError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)
  machine = f'{timing.cpu_model()}, {os.cpu_count()} cores, f32 GEMM {timing.gemm_peak("float32"):.0f} GFLOP/s'
  print(f'\n{machine}; {jax.default_backend()} device; batch {config.batch_size}; {time.strftime("%Y-%m-%d")}\n')
  print('| dataset | workers | images/s | per worker |\n|---|---|---|---|')
  for r in rows:
    per = f"{r['per_worker']:,.0f}" if 'per_worker' in r else ''
    print(f"| {r['dataset']} | {r['workers']} | {r['host_images_per_sec']:,.0f} | {per} |")
  for dataset in dict.fromkeys(r['dataset'] for r in rows):
    host = {r['workers']: r['host_images_per_sec'] for r in rows if r['dataset'] == dataset and 'per_worker' in r}
    if 1 in host and len(host) > 1:
      most = max(host)
      print(f'{dataset}: {most} workers / 1 worker = {host[most] / host[1]:.2f}x ({most}x would be linear)')
  if f.json:
    with open(f.json, 'w') as out:
      json.dump({'date': time.strftime('%Y-%m-%d'), 'machine': machine, 'batch_size': config.batch_size,
                 'rows': rows}, out, indent=2, default=lambda x: x if not isinstance(x, np.generic) else x.item())


def define_flags() -> None:
  config_flags.DEFINE_config_file('config', None, 'A configs/*.py file.', lock_config=True)
  flags.DEFINE_list('datasets', [], 'Datasets to read (default: the config\'s).')
  flags.DEFINE_list('workers', ['1', '2'], 'grain worker process counts (0: threads in this process).')
  flags.DEFINE_integer('batches', 20, 'Batches timed per row, after 2 warm-up batches.')
  flags.DEFINE_string('json', None, 'Write the rows here.')
  flags.mark_flags_as_required(['config'])


if __name__ == '__main__':
  define_flags()  # here, not on import: the tests import this module beside alexnet.main, whose --config is its own.
  app.run(main)
