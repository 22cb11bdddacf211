"""A split: random access to a dataset's examples by index; its sub-ranges; minival held out of train.

Evaluation protocol (big_vision's train[:99%] / train[99%:]): `minival_examples` training examples are held out as
minival, a fixed subset that training never reads; periodic evaluation, the plateau rule and every choice read it, and
the test split is read once.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import ml_collections
import numpy as np

# Seeds the fixed order in which a split stored class by class is cut (`shuffled`); not the run's seed, so that every
# run on a dataset holds out the same minival.
SHUFFLED_ORDER_SEED = 0


@dataclasses.dataclass
class Split:
  """Random access to one split: `read(indices)` -> (uint8 images [n, H, W, C], int32 labels [n]). `read` pickles
  (it runs in grain's worker processes)."""
  name: str
  num_examples: int
  read: Callable[[Any], tuple[np.ndarray, np.ndarray]]
  image_shape: tuple
  in_memory: bool = False  # reads are array indexing: no worker processes needed.
  by_label: bool = False  # examples stored class by class (an image folder), not in a random order (TFDS).


class _ArrayRead:
  def __init__(self, images: np.ndarray, labels: np.ndarray):
    self.images, self.labels = images, labels

  def __call__(self, indices):
    indices = np.asarray(indices)
    return self.images[indices], self.labels[indices]


def array_split(name: str, images: np.ndarray, labels: np.ndarray, by_label: bool = False) -> Split:
  """A split held in memory: reads are array indexing."""
  return Split(name, len(images), _ArrayRead(images, labels), images.shape[1:], in_memory=True, by_label=by_label)


class _Offset:
  def __init__(self, read, start: int):
    self.read, self.start = read, start

  def __call__(self, indices):
    return self.read(np.asarray(indices) + self.start)


def subset(split: Split, start: int, stop: int) -> Split:
  """Examples [start, stop) of `split`, as a split of their own."""
  if not 0 <= start < stop <= split.num_examples:
    raise ValueError(f'[{start}:{stop}] is not a non-empty range of the {split.num_examples} examples of {split.name}')
  return Split(f'{split.name}[{start}:{stop}]', stop - start, _Offset(split.read, start), split.image_shape,
               split.in_memory, split.by_label)


class _Gather:
  def __init__(self, read, order: np.ndarray):
    self.read, self.order = read, order

  def __call__(self, indices):
    return self.read(self.order[np.asarray(indices)])


def shuffled(split: Split) -> Split:
  """`split` itself when its examples are stored in a random order (TFDS shuffles them when preparing); for a split
  stored class by class, its examples in a fixed random order (SHUFFLED_ORDER_SEED), so that a range of it (minival,
  the first `train_examples`) draws from every class rather than from the last or the first ones."""
  if not split.by_label:
    return split
  order = np.random.default_rng(SHUFFLED_ORDER_SEED).permutation(split.num_examples)
  return Split(f'{split.name}:shuffled', split.num_examples, _Gather(split.read, order), split.image_shape,
               split.in_memory)


def hold_out_minival(train: Split, minival_examples: int) -> tuple[Split, Split | None]:
  """(train, minival): the last `minival_examples` training examples (of `shuffled(train)`) are held out as minival,
  a fixed random subset that training never reads. With 0 there is no minival and the whole split trains."""
  if minival_examples == 0:
    return train, None
  train = shuffled(train)
  cut = train.num_examples - minival_examples
  return subset(train, 0, cut), subset(train, cut, train.num_examples)


def training_subset(train: Split, config: ml_collections.ConfigDict) -> Split:
  """The examples a run trains on: the first `train_examples` of `shuffled(train)` (minival already held out), or
  all."""
  return subset(shuffled(train), 0, config.train_examples) if config.train_examples > 0 else train
