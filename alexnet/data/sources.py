"""`open_split`: the split a config's `dataset` names, as random access by index on the host.

- a TFDS name: read by index from `tfds.data_source` (array_record files, no TensorFlow at training time), each image
  decoded and given the deterministic part of Section 2's preprocessing (shorter side to `resize_size`, central
  square crop); a dataset not prepared fails at once with the command that prepares it;
- `folder:/path`: an image folder of class sub-folders (alexnet/data/folder.py);
- `synthetic`: a learnable task made in memory, no download.

With `cache_decoded` the whole split is decoded once into memory (small datasets).
"""
from __future__ import annotations

import hashlib

import grain
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from alexnet.data import errors
from alexnet.data import folder
from alexnet.data import imagenet  # importing it registers imagenet2012_256 with TFDS
from alexnet.data import imaging
from alexnet.data import order
from alexnet.data import splits


def _how_to_get(name: str, data_dir: str) -> str:
  manual = {
      'imagenet2012': f'Download {imagenet.TRAIN_TAR} and {imagenet.VAL_TAR} from image-net.org into a folder DIR, '
                      'then run',
      'fashion_mnist': 'Offline, `apt-get install dataset-fashion-mnist` provides the files; then run',
  }.get(name.replace('imagenet2012_256', 'imagenet2012'), 'When online, run')
  return (f'Dataset {name!r} is not prepared under data_dir={data_dir or "~/tensorflow_datasets"}. {manual}: '
          f'python -m alexnet.prepare --dataset={name} --data_dir={data_dir or "~/tensorflow_datasets"}'
          + (' --manual_dir=DIR' if name.startswith('imagenet2012') else ''))


class _TfdsRead:
  """Reads examples by index from a TFDS data source, decoding (and resizing) each image."""

  def __init__(self, source, resize_size: int):
    self.source, self.resize_size = source, resize_size

  def __call__(self, indices):
    keys = [int(i) for i in indices]
    try:
      examples = self.source.__getitems__(keys)  # one batched array_record read
    except TypeError:  # tfds.testing.mock_data's stand-in source only reads one key at a time
      examples = [self.source[k] for k in keys]
    size = self.resize_size
    images = [imaging.resize_and_center_crop(e['image'], size) if size else e['image'] for e in examples]
    return np.stack(images).astype(np.uint8), np.asarray([e['label'] for e in examples], np.int32)


def tfds_split(name: str, split: str, data_dir: str, resize_size: int) -> splits.Split:
  """Split `split` of the prepared TFDS dataset `name`; DataNotFoundError says how to prepare it, or which splits
  exist."""
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir or None, download=False)
  except Exception as e:  # pylint: disable=broad-except
    builder = tfds.builder(name, data_dir=data_dir or None)
    if not builder.is_prepared():
      raise errors.DataNotFoundError(_how_to_get(name, data_dir)) from None
    if split.split('[')[0] not in builder.info.splits:
      raise errors.DataNotFoundError(f'{name!r} has no split {split!r}; its splits are '
                                     f'{", ".join(sorted(builder.info.splits))}') from None
    raise errors.DataNotFoundError(f'{name!r} is prepared but not in a random-access format ({e}). Prepare it again '
                                   f'with: python -m alexnet.prepare --dataset={name} --data_dir={data_dir}') from e
  read = _TfdsRead(source, resize_size)
  return splits.Split(f'{name}:{split}', len(source), read, read([0])[0].shape[1:])


SYNTHETIC_SPLITS = {'train': 1024, 'test': 256}


def synthetic_split(split: str, num_classes: int, image_size: int, seed: int = 0) -> splits.Split:
  """A learnable task made in memory: each class is a fixed random template; examples are template + noise."""
  if split not in SYNTHETIC_SPLITS:
    raise errors.DataNotFoundError(f"the synthetic dataset has no split {split!r}; its splits are "
                                   f"{', '.join(SYNTHETIC_SPLITS)}")
  n = SYNTHETIC_SPLITS[split]
  rng = np.random.default_rng(seed)
  templates = rng.uniform(0, 255, (num_classes, image_size, image_size, 1))
  rng = np.random.default_rng([seed, int(hashlib.md5(split.encode()).hexdigest()[:8], 16)])
  labels = rng.integers(0, num_classes, n).astype(np.int32)
  images = np.clip(templates[labels] + rng.normal(0, 60, (n, image_size, image_size, 1)), 0, 255).astype(np.uint8)
  return splits.array_split(f'synthetic:{split}', images, labels)


def in_memory(split: splits.Split, workers: int = 0, chunk: int = 1024) -> splits.Split:
  """Decodes the whole split once (small datasets): later reads are array indexing."""
  chunks = grain.MapDataset.source([np.arange(i, min(i + chunk, split.num_examples))
                                    for i in range(0, split.num_examples, chunk)]).map(split.read)
  iterator = order.iterate(chunks, workers)
  try:
    parts = list(iterator)
  finally:
    order.close_iterator(iterator)
  return splits.array_split(split.name, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                            split.by_label)


def open_split(config: ml_collections.ConfigDict, split: str) -> splits.Split:
  """Split `split` of `config.dataset` (a TFDS name, 'folder:/path' or 'synthetic'), decoded into memory when
  `config.cache_decoded`."""
  dataset = config.dataset
  if dataset == 'synthetic':
    source = synthetic_split(split, config.num_classes, config.image_size, config.seed)
  elif dataset.startswith(folder.FOLDER_PREFIX):
    source = folder.folder_split(dataset[len(folder.FOLDER_PREFIX):], split, config.resize_size,
                                 config.unreadable_images)
  else:
    source = tfds_split(dataset, split, config.data_dir, config.resize_size)
  return in_memory(source, order.input_workers(config)) if config.cache_decoded and not source.in_memory else source
