"""Input pipelines: grain over TFDS random-access sources on the host, the paper's augmentation on the device.

Design (see README, "Input pipeline"): the host reads examples by index from `tfds.data_source` (array_record files,
no TensorFlow at training time), decodes them and applies the deterministic part of Section 2's preprocessing
(shorter side to `resize_size`, central square crop). The order is a grain `MapDataset`: example indices shuffled per
epoch from the config's seed, batched, each process taking its block of every global batch, then read and decoded as a
map, in `input_workers` processes (grain `mp_prefetch`) so that decoding scales with cores. Batch `step` is a pure
function of (seed, step, process); the iterator's state rides in the checkpoint, so a resumed run reads exactly the
batches it would have read. The random part of Section 4.1 (crops, flips, PCA colour noise) and mean subtraction run
inside the jitted step on the device (`augment_train`, `eval_views`), keyed by the step's rng.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
from typing import Any, Callable, Iterator

from absl import flags
from absl import logging
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

FOLDER_PREFIX = 'folder:'


class DataError(RuntimeError):
  """The data cannot be read as the config says; the message (one line) says which and what to do."""


class DataNotFoundError(DataError):
  """The dataset is not prepared locally; the message says how to get it."""


def _how_to_get(name: str, data_dir: str) -> str:
  manual = {
      'imagenet2012': 'Download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from image-net.org into a folder '
                      'DIR, then run',
      'fashion_mnist': 'Offline, `apt-get install dataset-fashion-mnist` provides the files; then run',
  }.get(name.replace('imagenet2012_256', 'imagenet2012'), 'When online, run')
  return (f'Dataset {name!r} is not prepared under data_dir={data_dir or "~/tensorflow_datasets"}. {manual}: '
          f'python -m alexnet.prepare --dataset={name} --data_dir={data_dir or "~/tensorflow_datasets"}'
          + (' --manual_dir=DIR' if name.startswith('imagenet2012') else ''))


# ------------------------------------------------------------------------------------------------ sources (host)

@dataclasses.dataclass
class Split:
  """Random access to one split: `read(indices)` -> (uint8 images [n, H, W, C], int32 labels [n]). `read` pickles
  (it runs in grain's worker processes)."""
  name: str
  num_examples: int
  read: Callable[[Any], tuple[np.ndarray, np.ndarray]]
  image_shape: tuple
  in_memory: bool = False  # reads are array indexing: no worker processes needed.


def resize_and_center_crop(image: np.ndarray, size: int) -> np.ndarray:
  """Section 2: rescale so the shorter side is `size`, then crop out the central size x size patch."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  h, w = image.shape[:2]
  if (h, w) != (size, size):
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    squeeze = image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image).resize((nw, nh), Image.BILINEAR)
    image = np.asarray(pil)[..., None] if squeeze else np.asarray(pil)
    top, left = (nh - size) // 2, (nw - size) // 2
    image = image[top:top + size, left:left + size]
  return image


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
    images = [resize_and_center_crop(e['image'], size) if size else e['image'] for e in examples]
    return np.stack(images).astype(np.uint8), np.asarray([e['label'] for e in examples], np.int32)


def _tfds_split(name: str, split: str, data_dir: str, resize_size: int) -> Split:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if name.startswith('imagenet2012_'):
    from alexnet import imagenet  # pylint: disable=g-import-not-at-top,unused-import  (registers imagenet2012_256)
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir or None, download=False)
  except Exception as e:  # pylint: disable=broad-except
    if not tfds.builder(name, data_dir=data_dir or None).is_prepared():
      raise DataNotFoundError(_how_to_get(name, data_dir)) from None
    raise DataNotFoundError(f'{name!r} is prepared but not in a random-access format ({e}). Prepare it again with: '
                            f'python -m alexnet.prepare --dataset={name} --data_dir={data_dir}') from e
  read = _TfdsRead(source, resize_size)
  return Split(f'{name}:{split}', len(source), read, read([0])[0].shape[1:])


class _FolderRead:
  def __init__(self, files: list[tuple[str, int]], resize_size: int):
    self.files, self.resize_size = files, resize_size

  def one(self, i):
    from PIL import Image  # pylint: disable=g-import-not-at-top
    try:
      image = np.asarray(Image.open(self.files[i][0]).convert('RGB'))
    except Exception as e:  # pylint: disable=broad-except
      raise DataError(f'cannot decode image {self.files[i][0]} ({type(e).__name__}: {e})') from None
    return resize_and_center_crop(image, self.resize_size or 256)

  def __call__(self, indices):
    return (np.stack([self.one(int(i)) for i in indices]),
            np.asarray([self.files[int(i)][1] for i in indices], np.int32))


def folder_classes(root: str, split: str) -> tuple[str, list[str]]:
  """(the folder a split of `root` reads, its class names in label order: the sorted sub-folder names)."""
  base = os.path.join(root, split) if os.path.isdir(os.path.join(root, split)) else root
  if not os.path.isdir(base):
    raise DataNotFoundError(f'Image folder {base!r} does not exist (expected {root}/<split>/<class>/<image>).')
  return base, sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))


def _folder_split(root: str, split: str, resize_size: int, unreadable: str = 'error') -> Split:
  """A folder of class sub-folders, `root/<split>/<class>/<image>` (or `root/<class>/...` for every split).

  Every file's header is read when the split opens: a file PIL cannot open raises DataError naming it, or with
  unreadable='skip' is left out and counted in a warning. A file that opens but fails to decode later raises
  DataError naming it."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  base, classes = folder_classes(root, split)
  files = [(os.path.join(base, c, f), label) for label, c in enumerate(classes)
           for f in sorted(os.listdir(os.path.join(base, c)))]
  if not files:
    raise DataNotFoundError(f'No images under {base!r} (expected {base}/<class>/<image>).')

  def problem(path):
    try:
      with Image.open(path) as image:
        image.size  # pylint: disable=pointless-statement
      return None
    except Exception as e:  # pylint: disable=broad-except
      return f'{type(e).__name__}: {e}'

  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    bad = [(f, p) for (f, _), p in zip(files, pool.map(problem, [f for f, _ in files])) if p is not None]
  if bad and unreadable != 'skip':
    raise DataError(f'unreadable image {bad[0][0]} ({bad[0][1]})' + (f' and {len(bad) - 1} more' if len(bad) > 1
                    else '') + '; fix or remove it, or set --config.unreadable_images=skip to leave such files out')
  if bad:
    logging.warning('%d unreadable image(s) left out of %s (first: %s: %s)', len(bad), base, *bad[0])
    skip = {f for f, _ in bad}
    files = [(f, label) for f, label in files if f not in skip]
  read = _FolderRead(files, resize_size)
  return Split(f'folder:{base}', len(files), read, read([0])[0].shape[1:])


class _ArrayRead:
  def __init__(self, images: np.ndarray, labels: np.ndarray):
    self.images, self.labels = images, labels

  def __call__(self, indices):
    indices = np.asarray(indices)
    return self.images[indices], self.labels[indices]


def _array_split(name: str, images: np.ndarray, labels: np.ndarray) -> Split:
  """A split held in memory: reads are array indexing."""
  return Split(name, len(images), _ArrayRead(images, labels), images.shape[1:], in_memory=True)


def synthetic_split(split: str, num_classes: int, image_size: int, seed: int = 0) -> Split:
  """A learnable task made in memory: each class is a fixed random template; examples are template + noise."""
  n = {'train': 1024}.get(split, 256)
  rng = np.random.default_rng(seed)
  templates = rng.uniform(0, 255, (num_classes, image_size, image_size, 1))
  rng = np.random.default_rng([seed, int(hashlib.md5(split.encode()).hexdigest()[:8], 16)])
  labels = rng.integers(0, num_classes, n).astype(np.int32)
  images = np.clip(templates[labels] + rng.normal(0, 60, (n, image_size, image_size, 1)), 0, 255).astype(np.uint8)
  return _array_split(f'synthetic:{split}', images, labels)


def in_memory(split: Split, workers: int = 0, chunk: int = 1024) -> Split:
  """Decodes the whole split once (small datasets): later reads are array indexing."""
  chunks = grain.MapDataset.source([np.arange(i, min(i + chunk, split.num_examples))
                                    for i in range(0, split.num_examples, chunk)]).map(split.read)
  iterator = iterate(chunks, workers)
  try:
    parts = list(iterator)
  finally:
    close_iterator(iterator)
  return _array_split(split.name, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


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
               split.in_memory)


def hold_out_minival(train: Split, minival_examples: int) -> tuple[Split, Split | None]:
  """(train, minival): the last `minival_examples` training examples are held out as minival, a fixed subset that
  training never reads (big_vision's train[:99%] / train[99%:]); TFDS stores examples shuffled, so it is a random one.
  With 0 there is no minival and the whole split trains."""
  if minival_examples == 0:
    return train, None
  cut = train.num_examples - minival_examples
  return subset(train, 0, cut), subset(train, cut, train.num_examples)


def training_subset(train: Split, config: ml_collections.ConfigDict) -> Split:
  """The examples a run trains on: the first `train_examples` of `train` (minival already held out), or all."""
  return subset(train, 0, config.train_examples) if config.train_examples > 0 else train


def input_workers(config: ml_collections.ConfigDict, split: Split | None = None) -> int:
  """grain worker processes for `split`: none for a split in memory; for input_workers=-1, one per core this process
  may run on (its CPU affinity: a launcher such as SLURM that pins each process to its share of a host's cores gives
  each its share)."""
  if split is not None and split.in_memory:
    return 0
  return len(os.sched_getaffinity(0)) if config.input_workers < 0 else config.input_workers


GREY_DATASETS = ('fashion_mnist', 'mnist', 'synthetic')


def model_image_shape(config: ml_collections.ConfigDict) -> tuple[int, int, int]:
  """(H, W, C) of the images the net sees under this config, known without opening the data: one channel for
  GREY_DATASETS, three (RGB) otherwise."""
  return (config.image_size, config.image_size, 1 if config.dataset in GREY_DATASETS else 3)


def open_split(config: ml_collections.ConfigDict, split: str) -> Split:
  dataset = config.dataset
  if dataset == 'synthetic':
    source = synthetic_split(split, config.num_classes, config.image_size, config.seed)
  elif dataset.startswith(FOLDER_PREFIX):
    source = _folder_split(dataset[len(FOLDER_PREFIX):], split, config.resize_size, config.unreadable_images)
  else:
    source = _tfds_split(dataset, split, config.data_dir, config.resize_size)
  return in_memory(source, input_workers(config)) if config.cache_decoded and not source.in_memory else source


# --------------------------------------------------------------------------------------- batch order (host, grain)

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


def train_dataset(split: Split, config: ml_collections.ConfigDict, origin: int = 0, process_index: int | None = None,
                  process_count: int | None = None) -> grain.MapDataset:
  """This process's training batches, element k being batch `origin + k`: each epoch a fresh permutation of the
  split's indices (grain shuffle), cut into global batches (remainder dropped), of which this process reads its
  contiguous block (processes: disjoint blocks whose union, in process order, is the global batch)."""
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  order = (grain.MapDataset.range(split.num_examples).shuffle(seed=shuffle_seed(config.seed))
           .batch(config.batch_size, drop_remainder=True).repeat())
  return order[origin:].map(_Block(process_index, process_count)).map(_ReadBatch(split.read))


class _EvalBatch:
  """Global batch `i` of a split read in order, this process's block of it, padded to the block size; `mask` marks the
  real examples."""

  def __init__(self, split: Split, batch_size: int, total: int, process_index: int, process_count: int):
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


def eval_dataset(split: Split, batch_size: int, num_batches: int = -1, process_index: int | None = None,
                 process_count: int | None = None) -> grain.MapDataset:
  """The split in order (its first `num_batches` batches; -1: all), in global batches padded to `batch_size`."""
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  total = split.num_examples if num_batches < 0 else min(split.num_examples, num_batches * batch_size)
  return grain.MapDataset.range(-(-total // batch_size)).map(
      _EvalBatch(split, batch_size, total, process_index, process_count))


def eval_batches(split: Split, batch_size: int, num_batches: int = -1, workers: int = 0
                 ) -> Iterator[dict[str, np.ndarray]]:
  """`eval_dataset`, read ahead."""
  iterator = iterate(eval_dataset(split, batch_size, num_batches), workers)
  try:
    yield from iterator
  finally:
    close_iterator(iterator)


def close_iterator(iterator) -> None:
  close = getattr(iterator, 'close', None)
  if close is not None:
    close()


# --------------------------------------------------------------------------------- dataset statistics (cached)

def image_statistics(split: Split, max_examples: int = 50_000, chunk: int = 1024, workers: int = 0
                     ) -> dict[str, np.ndarray]:
  """Mean image (Section 2), per-channel mean, and the RGB covariance's eigen-decomposition (Section 4.1), over a fixed
  random subset of at most `max_examples` training examples (all of them when the split is smaller)."""
  n = min(split.num_examples, max_examples)
  idx = np.random.default_rng(0).permutation(split.num_examples)[:n] if n < split.num_examples else np.arange(n)
  total = np.zeros(split.image_shape, np.float64)
  channel_sum, outer = 0.0, 0.0
  chunks = grain.MapDataset.source([np.sort(idx[i:i + chunk]) for i in range(0, n, chunk)]).map(split.read)
  iterator = iterate(chunks, 0 if split.in_memory else workers)
  try:
    for images, _ in iterator:
      images = images.astype(np.float64)
      total += images.sum(0)
      pixels = images.reshape(-1, images.shape[-1])
      channel_sum = channel_sum + pixels.sum(0)
      outer = outer + pixels.T @ pixels
  finally:
    close_iterator(iterator)
  num_pixels = n * np.prod(split.image_shape[:2])
  channel_mean = channel_sum / num_pixels
  covariance = outer / num_pixels - np.outer(channel_mean, channel_mean)
  eigvals, eigvecs = np.linalg.eigh(covariance)
  return {'mean_image': (total / n).astype(np.float32), 'channel_mean': channel_mean.astype(np.float32),
          'eigvals': eigvals.astype(np.float32), 'eigvecs': eigvecs.astype(np.float32)}


def cached_statistics(split: Split, config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
  """`image_statistics` of the training split, computed once and kept in the data dir."""
  if config.dataset == 'synthetic':
    return image_statistics(split, config.stats_max_examples)
  workers = input_workers(config, split)
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


# ------------------------------------------------------------------------------------------ augmentation (device)

def _subtract_mean(images: jax.Array, stats, config) -> jax.Array:
  x = images.astype(jnp.float32)
  if config.mean_subtraction == 'pixel':
    return x - stats['mean_image']
  if config.mean_subtraction == 'channel':
    return x - stats['channel_mean']
  if config.mean_subtraction == 'none':
    return x
  raise ValueError(f"mean_subtraction must be 'pixel', 'channel' or 'none', got {config.mean_subtraction!r}")


def crop(images: jax.Array, tops: jax.Array, lefts: jax.Array, size: int) -> jax.Array:
  """Per-example crops [n, size, size, C] at (tops[i], lefts[i])."""
  one = lambda im, t, l: jax.lax.dynamic_slice(im, (t, l, 0), (size, size, im.shape[-1]))
  return jax.vmap(one)(images, tops, lefts)


def pca_noise(rng: jax.Array, batch: int, eigvals: jax.Array, eigvecs: jax.Array, std: float) -> jax.Array:
  """Section 4.1: per image, add [p1..pC] [a1 s1 .. aC sC]^T to every pixel, alpha_i ~ N(0, std).

  s_i = sqrt(lambda_i), the standard deviation of the pixels along eigenvector p_i, so the noise's covariance along
  p_i is std^2 * lambda_i whatever the pixel units. (Read literally with lambda_i for [0, 255] pixels, the offsets
  would be hundreds of levels.)
  """
  alphas = std * jax.random.normal(rng, (batch, eigvals.shape[0]))
  return (alphas * jnp.sqrt(jnp.maximum(eigvals, 0.0))) @ eigvecs.T


def augment_train(images: jax.Array, rng: jax.Array, stats, config: ml_collections.ConfigDict) -> jax.Array:
  """Mean subtraction, random crop (or pad-and-crop), horizontal flip, PCA colour noise; float32 out."""
  x = _subtract_mean(images, stats, config)
  n, size = x.shape[0], config.image_size
  if config.pad_crop:
    p = config.pad_crop
    x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
  crop_rng, flip_rng, pca_rng = jax.random.split(rng, 3)
  room_h, room_w = x.shape[1] - size, x.shape[2] - size
  if config.random_crop:
    tops = jax.random.randint(crop_rng, (n,), 0, room_h + 1)
    lefts = jax.random.randint(jax.random.fold_in(crop_rng, 1), (n,), 0, room_w + 1)
  else:
    tops, lefts = jnp.full((n,), room_h // 2), jnp.full((n,), room_w // 2)
  x = crop(x, tops, lefts, size)
  if config.random_flip:
    flips = jax.random.bernoulli(flip_rng, 0.5, (n,))
    x = jnp.where(flips[:, None, None, None], x[:, :, ::-1], x)
  if config.pca_lighting:
    x = x + pca_noise(pca_rng, n, stats['eigvals'], stats['eigvecs'], config.pca_lighting)[:, None, None, :]
  return x * config.input_scale


def ten_crop_offsets(height: int, width: int, size: int) -> list[tuple[int, int]]:
  """Section 4.1's test crops: four corners and the centre (their flips are added by `eval_views`)."""
  return [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size),
          ((height - size) // 2, (width - size) // 2)]


def eval_views(images: jax.Array, stats, config: ml_collections.ConfigDict) -> jax.Array:
  """[n, views, size, size, C]: the centre crop (eval_crops=1) or the paper's 10 crops (eval_crops=10)."""
  x = _subtract_mean(images, stats, config)
  size = config.image_size
  if config.eval_crops not in (1, 10):
    raise ValueError(f'eval_crops must be 1 or 10, got {config.eval_crops}')
  offsets = ten_crop_offsets(x.shape[1], x.shape[2], size)
  offsets = offsets if config.eval_crops == 10 else offsets[-1:]
  views = [x[:, t:t + size, l:l + size] for t, l in offsets]
  if config.eval_crops == 10:
    views += [v[:, :, ::-1] for v in views]
  return jnp.stack(views, axis=1) * config.input_scale
