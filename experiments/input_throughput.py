"""Input pipeline throughput alone (no model): host reading (grain workers) and device augmentation, in images/s.

  python -m experiments.input_throughput --config=configs/imagenet.py --datasets=imagenet2012,imagenet2012_256 \
      --workers=1,2 [--batches=20] [--json=FILE] [--config.data_dir=DIR]

For each dataset and worker count: the host rate of the training batches (read, decode, Section 2's resize and centre
crop, batch) after the workers have started, and its share per worker; then the jitted augmentation (crops, flips,
PCA noise, mean subtraction) on the device. Compare with the train step's images/s (experiments/benchmark.py): the
input keeps up when its rate is above the model's.
"""
from __future__ import annotations

import json
import os
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from alexnet import input_pipeline
from experiments import timing

config_flags.DEFINE_config_file('config', None, 'A configs/*.py file.', lock_config=True)
flags.DEFINE_list('datasets', [], 'Datasets to read (default: the config\'s).')
flags.DEFINE_list('workers', ['1', '2'], 'grain worker process counts (0: threads in this process).')
flags.DEFINE_integer('batches', 20, 'Batches timed per row, after 2 warm-up batches.')
flags.DEFINE_string('json', None, 'Write the rows here.')
flags.mark_flags_as_required(['config'])


def host_rate(split, config, workers: int, num_batches: int) -> tuple[float, list]:
  """Images/s of the training batches from `workers` grain processes (warm-up batches not timed)."""
  batches = input_pipeline.iterate(input_pipeline.train_dataset(split, config), workers)
  try:
    for _ in range(2):
      next(batches)
    start = time.perf_counter()
    kept = [next(batches) for _ in range(num_batches)]
    return num_batches * config.batch_size / (time.perf_counter() - start), kept
  finally:
    input_pipeline.close_iterator(batches)


def augment_rate(batches: list, stats, config) -> float:
  augment = jax.jit(lambda images, rng: input_pipeline.augment_train(images, rng, stats, config))
  device_batches = [jnp.asarray(b['image']) for b in batches]
  jax.block_until_ready(augment(device_batches[0], jax.random.key(0)))
  start = time.perf_counter()
  for i, images in enumerate(device_batches):
    out = augment(images, jax.random.key(i))
  jax.block_until_ready(out)
  return len(device_batches) * config.batch_size / (time.perf_counter() - start)


def measure(config, datasets: list[str], workers: list[int], num_batches: int) -> list[dict]:
  rows = []
  for dataset in datasets:
    config = config.copy_and_resolve_references()
    with config.unlocked():
      config.dataset = dataset
    split = input_pipeline.open_split(config, config.train_split)
    kept = None
    for w in workers:
      rate, kept = host_rate(split, config, w, num_batches)
      rows.append({'dataset': dataset, 'workers': w, 'host_images_per_sec': rate,
                   'per_worker': rate / max(w, 1), 'image_shape': list(kept[0]['image'].shape[1:])})
      print(f'{dataset}: {w} worker(s): {rate:,.0f} img/s ({rate / max(w, 1):,.0f} per worker)', flush=True)
    stats = {k: jnp.asarray(v) for k, v in input_pipeline.cached_statistics(split, config).items()}
    rows.append({'dataset': dataset, 'workers': 'device augmentation',
                 'host_images_per_sec': augment_rate(kept, stats, config)})
  return rows


def main(argv):
  del argv
  f = flags.FLAGS
  config, workers = f.config, [int(w) for w in f.workers]
  rows = measure(config, f.datasets or [config.dataset], workers, f.batches)
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


if __name__ == '__main__':
  app.run(main)
