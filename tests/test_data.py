"""The host side of the input (alexnet/data): sources (TFDS, folders, synthetic), splits and minival, the grain batch
order, cached statistics, and the checks of a config against the opened data."""
import os
import socket
import threading

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from alexnet import augment
from alexnet import validation
from alexnet.data import errors
from alexnet.data import imaging
from alexnet.data import order
from alexnet.data import prepare
from alexnet.data import sources
from alexnet.data import splits
from alexnet.data import statistics
from configs import default as default_config
from configs import imagenet as imagenet_config
from tests.input_configs import plain_config


def indexed_split(n):
  """A split whose labels are the examples' own indices."""
  images, labels = np.zeros((n, 2, 2, 1), np.uint8), np.arange(n, dtype=np.int32)
  return splits.array_split('toy:train', images, labels)


def batch_labels(split, config, steps, **kwargs):
  dataset = order.train_dataset(split, config, **kwargs)
  return np.stack([dataset[k]['label'] for k in range(steps)])


def test_batch_order_is_a_pure_function_of_seed_and_step_and_each_epoch_a_permutation():
  split, config = indexed_split(1000), plain_config(batch_size=32, seed=3)
  a = batch_labels(split, config, 62)
  np.testing.assert_array_equal(a, batch_labels(split, config, 62))
  assert not np.array_equal(a, batch_labels(split, plain_config(batch_size=32, seed=4), 62))
  first, second = a[:31].ravel(), a[31:].ravel()  # 1000 // 32 = 31 steps an epoch, 8 examples dropped
  assert len(set(first)) == len(set(second)) == 992 and not np.array_equal(first, second)
  # batch origin + k: resumable anywhere
  np.testing.assert_array_equal(batch_labels(split, config, 10, origin=52), a[52:])


def test_two_processes_read_disjoint_blocks_whose_union_is_the_global_batch():
  split, config = indexed_split(500), plain_config(batch_size=64)
  full = batch_labels(split, config, 5)
  p0 = batch_labels(split, config, 5, process_index=0, process_count=2)
  p1 = batch_labels(split, config, 5, process_index=1, process_count=2)
  assert p0.shape == p1.shape == (5, 32) and not set(p0.ravel()) & set(p1.ravel())
  np.testing.assert_array_equal(np.concatenate([p0, p1], axis=1), full)


def test_iterator_state_resumes_the_same_batches():
  split, config = indexed_split(300), plain_config(batch_size=16)
  iterator = order.iterate(order.train_dataset(split, config), workers=0)
  [next(iterator) for _ in range(5)]
  saved = iterator.get_state()
  rest = [next(iterator)['label'] for _ in range(20)]  # across an epoch boundary (18 steps an epoch)
  order.close_iterator(iterator)
  resumed = order.iterate(order.train_dataset(split, config), workers=0)
  resumed.set_state(saved)
  np.testing.assert_array_equal(np.stack([next(resumed)['label'] for _ in range(20)]), np.stack(rest))
  order.close_iterator(resumed)


def test_evaluation_reads_every_example_once_across_processes():
  split = indexed_split(103)
  seen = []
  for process in range(2):
    for batch in order.iterate(order.eval_dataset(split, 16, process_index=process, process_count=2), workers=0):
      assert batch['label'].shape == (8,)
      seen += batch['label'][batch['mask']].tolist()
  assert sorted(seen) == list(range(103))
  assert sum(int(b['mask'].sum()) for b in order.eval_dataset(split, 16, num_batches=2)) == 32


def test_missing_dataset_fails_fast_with_instructions(tmp_path, monkeypatch):
  config = imagenet_config.get_config()
  config.data_dir = str(tmp_path)
  monkeypatch.setattr(socket.socket, 'connect', lambda *_: pytest.fail('open_split reached for the network'))
  for name in ('imagenet2012', 'cifar10'):
    config.dataset = name
    with pytest.raises(errors.DataNotFoundError, match='python -m alexnet.prepare'):
      sources.open_split(config, 'train')
    assert not list(tmp_path.iterdir())  # nothing downloaded or written: it fails before any work.
  config.dataset = 'folder:' + str(tmp_path / 'nope')
  with pytest.raises(errors.DataNotFoundError, match='does not exist'):
    sources.open_split(config, 'train')


def test_pipeline_on_tfds_mock_data(tmp_path):
  config = imagenet_config.get_config()
  config.update(dataset='cifar10', data_dir=str(tmp_path), resize_size=0, image_size=28, eval_crops=10,
                batch_size=8, cache_decoded=True, input_workers=0)
  with tfds.testing.mock_data(num_examples=24):
    split = sources.open_split(config, 'train')
    assert split.num_examples == 24 and split.image_shape == (32, 32, 3)
    batch = order.train_dataset(split, config)[0]
    assert batch['image'].shape == (8, 32, 32, 3) and batch['image'].dtype == np.uint8
    stats = statistics.cached_statistics(split, config)
  assert os.listdir(tmp_path / 'alexnet_stats')
  out = augment.augment_train(jnp.asarray(batch['image']), jax.random.key(0), stats, config)
  assert out.shape == (8, 28, 28, 3)
  assert abs(float(out.mean())) < 30  # mean-subtracted
  views = augment.eval_views(jnp.asarray(batch['image']), stats, config)
  assert views.shape == (8, 10, 28, 28, 3)


def test_resize_shorter_side_and_center_crop():
  image = np.zeros((300, 400, 3), np.uint8)
  image[:, 150:250] = 255  # a centred vertical band survives the centre crop
  out = imaging.resize_and_center_crop(image, 256)
  assert out.shape == (256, 256, 3)
  assert out[:, 128].min() == 255 and out[:, 0].max() == 0


def test_image_folder_source(tmp_path):
  for label, name in enumerate(('cat', 'dog')):
    os.makedirs(tmp_path / 'train' / name)
    for i in range(3):
      Image.fromarray(np.full((40, 60, 3), 100 * label, np.uint8)).save(tmp_path / 'train' / name / f'{i}.png')
  config = imagenet_config.get_config()
  config.update(dataset=f'folder:{tmp_path}', resize_size=32)
  split = sources.open_split(config, 'train')
  images, labels = split.read(np.arange(6))
  assert split.num_examples == 6 and images.shape == (6, 32, 32, 3)
  np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])


def test_the_synthetic_dataset_names_its_splits():
  with pytest.raises(errors.DataNotFoundError, match=r"no split 'validation'; its splits are train, test"):
    sources.synthetic_split('validation', num_classes=4, image_size=8)


def test_prepare_waits_for_apts_lock_and_says_why_it_could_not_install(tmp_path, monkeypatch):
  """apt-get is asked to wait for another apt-get's lock; when it still fails, one line says why and TFDS is not
  asked to download (an offline machine would retry unreachable hosts for minutes)."""
  bin_dir, calls = tmp_path / 'bin', tmp_path / 'calls'
  bin_dir.mkdir()
  (bin_dir / 'apt-get').write_text(f'#!/bin/sh\necho "$@" >> {calls}\n'
                                   'echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process '
                                   '4242 (apt-get)" >&2\nexit 100\n')
  (bin_dir / 'apt-get').chmod(0o755)
  monkeypatch.setenv('PATH', f'{bin_dir}:{os.environ["PATH"]}')
  monkeypatch.setattr(prepare, 'DEBIAN_FASHION_MNIST', str(tmp_path / 'absent'))
  monkeypatch.setattr(prepare.os, 'geteuid', lambda: 0)
  monkeypatch.setattr(prepare.tfds.core.DatasetBuilder, 'download_and_prepare',
                      lambda *a, **k: pytest.fail('TFDS was asked to download'))
  with pytest.raises(errors.DataNotFoundError, match=r"Debian's dataset-fashion-mnist is not installed \(apt-get "
                     r'install dataset-fashion-mnist failed \(exit 100: E: Could not get lock /var/lib/dpkg/'
                     r'lock-frontend.*\)\); install it .* or, online, pass --download'):
    prepare.prepare('fashion_mnist', str(tmp_path / 'tfds'))
  said = calls.read_text().splitlines()
  assert len(said) == 2 and all('-o DPkg::Lock::Timeout=600' in line for line in said)
  assert said[1].endswith('install -y -qq dataset-fashion-mnist')


def test_prepare_downloads_nothing_unless_asked(tmp_path, monkeypatch):
  """A dataset that is neither Debian's Fashion-MNIST nor ImageNet (from its tars) is fetched only with --download:
  without it, one line says how to get it, and TFDS is not asked to download."""
  monkeypatch.setattr(prepare.tfds.core.DatasetBuilder, 'download_and_prepare',
                      lambda *a, **k: pytest.fail('TFDS was asked to download'))
  with pytest.raises(errors.DataNotFoundError, match=r'^cifar10: not prepared in .*/tfds, and nothing is downloaded '
                     r'unless asked: online, pass --download .*; offline, --manual_dir=DIR'):
    prepare.prepare('cifar10', str(tmp_path / 'tfds'))


@pytest.mark.slow
def test_an_unknown_split_of_a_prepared_dataset_names_its_splits(fashion_mnist_dir):
  with pytest.raises(errors.DataNotFoundError, match=r"'fashion_mnist' has no split 'nosuchsplit'; its splits are "
                     r'test, train'):
    sources.tfds_split('fashion_mnist', 'nosuchsplit', fashion_mnist_dir, 0)


@pytest.fixture(scope='session')
def fashion_mnist_dir(tmp_path_factory):
  if not os.path.isdir(prepare.DEBIAN_FASHION_MNIST):
    pytest.skip('Debian dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)')
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  prepare.prepare('fashion_mnist', data_dir, allow_apt=False)
  return data_dir


@pytest.mark.slow
def test_real_fashion_mnist_through_tfds(fashion_mnist_dir):
  config = default_config.get_config()
  config.data_dir = fashion_mnist_dir
  config.cache_decoded = False
  train_split, test_split = sources.open_split(config, 'train'), sources.open_split(config, 'test')
  assert (train_split.num_examples, test_split.num_examples) == (60_000, 10_000)
  assert train_split.image_shape == (28, 28, 1)
  images, labels = train_split.read(np.arange(1000))
  assert images.dtype == np.uint8 and 0 < images.mean() < 255
  assert set(labels) == set(range(10))
  batches = order.eval_batches(test_split, 4096)
  sizes = [int(b['mask'].sum()) for b in batches]
  assert sizes == [4096, 4096, 1808]


def test_a_failing_read_reaches_the_training_loop():
  def read(indices):
    raise OSError('disk gone')
  split = splits.Split('broken', 100, read, (4, 4, 1))
  with pytest.raises(OSError, match='disk gone'):
    next(order.iterate(order.train_dataset(split, plain_config(batch_size=10)), workers=0))


def test_the_reader_threads_stop_when_the_iterator_is_closed():
  split = sources.synthetic_split('train', num_classes=4, image_size=8)
  before = {t.ident for t in threading.enumerate()}
  batches = order.iterate(order.train_dataset(split, plain_config(batch_size=8)), workers=0)
  next(batches)
  readers = [t for t in threading.enumerate() if t.ident not in before]
  assert readers  # reading ahead
  order.close_iterator(batches)
  for t in readers:  # the threads finish their last read, then exit
    t.join(timeout=120)
  assert not {t.ident for t in threading.enumerate()} - before  # (a thread of an earlier test may end meanwhile)


def test_a_split_stored_in_random_order_holds_out_its_tail():
  """TFDS stores examples shuffled: minival is the split's last examples and `train_examples` its first, as always."""
  split = indexed_split(100)
  train, minival = splits.hold_out_minival(split, 20)
  assert minival.name == 'toy:train[80:100]'
  np.testing.assert_array_equal(minival.read(np.arange(20))[1], np.arange(80, 100))
  subset = splits.training_subset(train, plain_config(train_examples=10))
  assert subset.name == 'toy:train[0:80][0:10]'
  np.testing.assert_array_equal(subset.read(np.arange(10))[1], np.arange(10))


def _numbered_folder(root, classes=3, per_class=8):
  """An image folder whose files are each one grey level: their position in the class-by-class listing."""
  for label in range(classes):
    os.makedirs(root / f'c{label}')
    for i in range(per_class):
      Image.fromarray(np.full((8, 8, 3), label * per_class + i, np.uint8)).save(root / f'c{label}' / f'{i}.png')


def _values_and_labels(split):
  images, labels = split.read(np.arange(split.num_examples))
  return images[:, 0, 0, 0].tolist(), labels.tolist()


@pytest.mark.parametrize('cache_decoded', [False, True])
def test_a_folder_holds_out_minival_from_every_class_not_the_last(tmp_path, cache_decoded):
  """A folder lists its files class by class: minival (and a `train_examples` subset) come from a fixed random order
  of them, the same at every opening, and minival is still disjoint from train."""
  _numbered_folder(tmp_path)
  config = plain_config(dataset=f'folder:{tmp_path}', resize_size=8, cache_decoded=cache_decoded, input_workers=0)
  split = sources.open_split(config, 'train')
  assert _values_and_labels(split)[1] == [0] * 8 + [1] * 8 + [2] * 8 and split.by_label
  train, minival = splits.hold_out_minival(split, 6)
  (train_values, _), (minival_values, minival_labels) = _values_and_labels(train), _values_and_labels(minival)
  assert sorted(train_values + minival_values) == list(range(24))
  assert set(minival_labels) == {0, 1, 2}
  again = splits.hold_out_minival(sources.open_split(config, 'train'), 6)[1]
  assert _values_and_labels(again)[0] == minival_values and again.name == minival.name
  first = splits.training_subset(split, plain_config(train_examples=6))
  assert len(set(_values_and_labels(first)[1])) > 1


def test_the_config_is_checked_against_the_opened_training_split():
  config = imagenet_config.get_config()
  with pytest.raises(validation.ConfigError, match=r'^minival_examples=10000 leaves nothing to train on: '
                     r'imagenet2012:train holds 80 examples; set --config.minival_examples below that$'):
    validation.validate_data(config, 80, (256, 256, 3))
  config.minival_examples = 16
  with pytest.raises(validation.ConfigError, match=r'^batch_size 128 exceeds the 64 training examples \(80 examples '
                     r'of imagenet2012:train less minival_examples=16\)$'):
    validation.validate_data(config, 80, (256, 256, 3))
  config.batch_size = 16
  validation.validate_data(config, 80, (256, 256, 3))
  config.train_examples = 65
  with pytest.raises(validation.ConfigError, match='^train_examples=65 exceeds the 64 training examples'):
    validation.validate_data(config, 80, (256, 256, 3))
  config.train_examples = 8
  with pytest.raises(validation.ConfigError, match=r'^batch_size 16 exceeds the 8 training examples .*, '
                     r'train_examples=8\)$'):
    validation.validate_data(config, 80, (256, 256, 3))
  config.train_examples = -1
  with pytest.raises(validation.ConfigError, match='^image_size 227 is larger than the stored images'):
    validation.validate_data(config, 80, (200, 200, 3))
