"""The training set's image statistics: the mean image (Section 2) and the RGB covariance's eigen-decomposition
(Section 4.1), computed once per split and kept in the data dir."""
from __future__ import annotations

import hashlib
import os

import grain
import ml_collections
import numpy as np

from alexnet.data import order
from alexnet.data import splits


def image_statistics(split: splits.Split, max_examples: int = 50_000, chunk: int = 1024, workers: int = 0
                     ) -> dict[str, np.ndarray]:
  """Mean image (Section 2), per-channel mean, and the RGB covariance's eigen-decomposition (Section 4.1), over a fixed
  random subset of at most `max_examples` training examples (all of them when the split is smaller)."""
  n = min(split.num_examples, max_examples)
  idx = np.random.default_rng(0).permutation(split.num_examples)[:n] if n < split.num_examples else np.arange(n)
  total = np.zeros(split.image_shape, np.float64)
  channel_sum, outer = 0.0, 0.0
  chunks = grain.MapDataset.source([np.sort(idx[i:i + chunk]) for i in range(0, n, chunk)]).map(split.read)
  iterator = order.iterate(chunks, 0 if split.in_memory else workers)
  try:
    for images, _ in iterator:
      images = images.astype(np.float64)
      total += images.sum(0)
      pixels = images.reshape(-1, images.shape[-1])
      channel_sum = channel_sum + pixels.sum(0)
      outer = outer + pixels.T @ pixels
  finally:
    order.close_iterator(iterator)
  num_pixels = n * np.prod(split.image_shape[:2])
  channel_mean = channel_sum / num_pixels
  covariance = outer / num_pixels - np.outer(channel_mean, channel_mean)
  eigvals, eigvecs = np.linalg.eigh(covariance)
  return {'mean_image': (total / n).astype(np.float32), 'channel_mean': channel_mean.astype(np.float32),
          'eigvals': eigvals.astype(np.float32), 'eigvecs': eigvecs.astype(np.float32)}


def cached_statistics(split: splits.Split, config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
  """`image_statistics` of the training split, computed once and kept in the data dir."""
  if config.dataset == 'synthetic':
    return image_statistics(split, config.stats_max_examples)
  workers = order.input_workers(config, split)
  root = os.path.expanduser(config.data_dir or '~/tensorflow_datasets')
  key = f'{split.name}:{split.image_shape}:{split.num_examples}:{config.stats_max_examples}'
  key = hashlib.md5(key.encode()).hexdigest()[:12]
  path = os.path.join(root, 'alexnet_stats', f'{split.name.replace(":", "_").replace("/", "_")[-60:]}-{key}.npz')
  if os.path.exists(path):
    with np.load(path) as f:
      return dict(f)
  stats = image_statistics(split, config.stats_max_examples, workers=workers)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = f'{path}.{os.getpid()}.tmp.npz'  # several processes of one run may write it at once.
  np.savez(tmp, **stats)
  os.replace(tmp, path)
  return stats
