"""The batch order on the host: a grain `MapDataset` over a split's indices, read ahead in worker processes.

Training: the example indices shuffled per epoch from the config's seed, cut into global batches (the remainder of each
epoch dropped), each process taking its contiguous block of every global batch, then read and decoded as a map. Batch
`step` is a pure function of (seed, step, process); the iterator's state rides in the checkpoint, so a resumed run
reads exactly the batches it would have read. Evaluation: a split in order, in batches padded to the batch size with a
mask of the real examples. `iterate` reads either ahead in `input_workers` processes (grain `mp_prefetch`), so that
decoding scales with cores, or in threads of this process.
"""
from __future__ import annotations

import os
from typing import Iterator

from absl import flags
import grain
import jax
import ml_collections
import numpy as np

from alexnet.data import splits


def input_workers(config: ml_collections.ConfigDict, split: splits.Split | None = None) -> int:
  """grain worker processes for `split`: none for a split in memory; for input_workers=-1, one per core this process
  may run on (its CPU affinity: a launcher such as SLURM that pins each process to its share of a host's cores gives
  each its share)."""
  if split is not None and split.in_memory:
    return 0
  return len(os.sched_getaffinity(0)) if config.input_workers < 0 else config.input_workers


def iterate(dataset: grain.MapDataset, workers: int, buffer: int = 2) -> grain.DatasetIterator:
  """An iterator over `dataset` that reads ahead: `workers` processes (grain mp_prefetch; each element is made
  whole in one process), or with 0, threads in this process."""
  read_options = grain.ReadOptions(num_threads=2 if workers == 0 else 1, prefetch_buffer_size=buffer)
  iter_dataset = dataset.to_iter_dataset(read_options)
  if workers > 0:
    if not flags.FLAGS.is_parsed():  # grain's workers read its absl flags; as a library (tests, notebooks): defaults.
      flags.FLAGS.mark_as_parsed()
    iter_dataset = iter_dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers,
                                                                          per_worker_buffer_size=buffer))
  return iter(iter_dataset)


def close_iterator(iterator) -> None:
  """Stops an iterator's reader threads or worker processes (an iterator without `close` has none)."""
  close = getattr(iterator, 'close', None)
  if close is not None:
    close()


def shuffle_seed(seed: int) -> int:
  """grain seeds epoch e's shuffle with (seed + e): derive the base from the config seed so that runs of
  neighbouring seeds do not share permutations one epoch apart."""
  return int(np.random.SeedSequence([seed, 0x5EED]).generate_state(1)[0])


class _Block:
  """This process's block of a global batch of indices."""

  def __init__(self, process_index: int, process_count: int):
    self.process_index, self.process_count = process_index, process_count

  def __call__(self, global_batch):
    per_process = len(global_batch) // self.process_count
    return global_batch[self.process_index * per_process:(self.process_index + 1) * per_process]


class _ReadBatch:
  def __init__(self, read):
    self.read = read

  def __call__(self, indices):
    images, labels = self.read(indices)
    return {'image': images, 'label': labels}


def train_dataset(split: splits.Split, config: ml_collections.ConfigDict, origin: int = 0,
                  process_index: int | None = None, process_count: int | None = None) -> grain.MapDataset:
  """This process's training batches, element k being batch `origin + k`: each epoch a fresh permutation of the
  split's indices (grain shuffle), cut into global batches (remainder dropped), of which this process reads its
  contiguous block (processes: disjoint blocks whose union, in process order, is the global batch). The split holds
  at least one batch (validation.validate_data)."""
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  order = (grain.MapDataset.range(split.num_examples).shuffle(seed=shuffle_seed(config.seed))
           .batch(config.batch_size, drop_remainder=True).repeat())
  return order[origin:].map(_Block(process_index, process_count)).map(_ReadBatch(split.read))


class _EvalBatch:
  """Global batch `i` of a split read in order, this process's block of it, padded to the block size; `mask` marks the
  real examples."""

  def __init__(self, split: splits.Split, batch_size: int, total: int, process_index: int, process_count: int):
    self.read, self.image_shape, self.batch_size, self.total = split.read, split.image_shape, batch_size, total
    self.per_process = batch_size // process_count
    self.offset = process_index * self.per_process

  def __call__(self, i):
    start = i * self.batch_size + self.offset
    idx = np.arange(start, min(start + self.per_process, (i + 1) * self.batch_size, self.total))
    if len(idx):
      images, labels = self.read(idx)
    else:
      images, labels = np.zeros((0, *self.image_shape), np.uint8), np.zeros(0, np.int32)
    pad = self.per_process - len(idx)
    return {'image': np.concatenate([images, np.zeros((pad, *images.shape[1:]), np.uint8)]),
            'label': np.concatenate([labels, np.zeros(pad, np.int32)]),
            'mask': np.concatenate([np.ones(len(idx), bool), np.zeros(pad, bool)])}


def eval_dataset(split: splits.Split, batch_size: int, num_batches: int = -1, process_index: int | None = None,
                 process_count: int | None = None) -> grain.MapDataset:
  """The split in order (its first `num_batches` batches; -1: all), in global batches padded to `batch_size`."""
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  total = split.num_examples if num_batches < 0 else min(split.num_examples, num_batches * batch_size)
  return grain.MapDataset.range(-(-total // batch_size)).map(
      _EvalBatch(split, batch_size, total, process_index, process_count))


def eval_batches(split: splits.Split, batch_size: int, num_batches: int = -1, workers: int = 0
                 ) -> Iterator[dict[str, np.ndarray]]:
  """`eval_dataset`, read ahead."""
  iterator = iterate(eval_dataset(split, batch_size, num_batches), workers)
  try:
    yield from iterator
  finally:
    close_iterator(iterator)
