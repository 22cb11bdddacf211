"""Input pipeline: the paper's crops, flips, 10-crop layout, mean subtraction, PCA noise; TFDS sources; batch order."""
import os
import socket
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from alexnet import input_pipeline as ip
from alexnet import prepare
from configs import default as default_config
from configs import imagenet as imagenet_config


def plain_config(**overrides):
  config = imagenet_config.get_config()
  config.update(dict(mean_subtraction='none', pad_crop=0, random_crop=False, random_flip=False, pca_lighting=0.0,
                     input_scale=1.0))
  config.update(overrides)
  return config


def numbered_images(n, h, w, c=1):
  """Every pixel holds a distinct value 1 + (row * w + col), the same in every channel."""
  base = 1 + np.arange(h * w, dtype=np.float32).reshape(h, w)
  return np.broadcast_to(base[None, :, :, None], (n, h, w, c)).copy()


NO_STATS = {'mean_image': 0.0, 'channel_mean': 0.0, 'eigvals': jnp.ones(1), 'eigvecs': jnp.ones((1, 1))}


def test_random_crops_have_the_right_size_and_cover_every_position():
  images = numbered_images(400, 12, 12)
  out = np.asarray(ip.augment_train(jnp.asarray(images), jax.random.key(0), NO_STATS,
                                    plain_config(image_size=8, random_crop=True)))
  assert out.shape == (400, 8, 8, 1)
  tops, lefts = np.divmod(out[:, 0, 0, 0].astype(int) - 1, 12)
  for i in range(len(out)):
    np.testing.assert_array_equal(out[i], images[0, tops[i]:tops[i] + 8, lefts[i]:lefts[i] + 8])
  assert set(tops) == set(range(5)) and set(lefts) == set(range(5))


def test_pad_and_crop_for_small_images():
  images = numbered_images(200, 6, 6)
  out = np.asarray(ip.augment_train(jnp.asarray(images), jax.random.key(1), NO_STATS,
                                    plain_config(image_size=6, pad_crop=2, random_crop=True)))
  padded = np.pad(images[0], ((2, 2), (2, 2), (0, 0)))
  offsets = set()
  for view in out:
    matches = [(t, l) for t in range(5) for l in range(5) if np.array_equal(view, padded[t:t + 6, l:l + 6])]
    assert len(matches) == 1
    offsets.add(matches[0])
  assert len(offsets) == 25


def test_flips_are_horizontal_and_about_half():
  images = numbered_images(256, 5, 5)
  out = np.asarray(ip.augment_train(jnp.asarray(images), jax.random.key(2), NO_STATS,
                                    plain_config(image_size=5, random_flip=True)))
  flipped = np.array([np.array_equal(o, images[0, :, ::-1]) for o in out])
  same = np.array([np.array_equal(o, images[0]) for o in out])
  assert np.all(flipped ^ same)
  assert 100 < flipped.sum() < 156


def test_ten_crop_layout():
  images = numbered_images(2, 10, 10, 3)
  views = np.asarray(ip.eval_views(jnp.asarray(images), NO_STATS, plain_config(image_size=6, eval_crops=10)))
  assert views.shape == (2, 10, 6, 6, 3)
  img = images[0]
  expected = [img[:6, :6], img[:6, 4:], img[4:, :6], img[4:, 4:], img[2:8, 2:8]]
  for i, e in enumerate(expected):
    np.testing.assert_array_equal(views[0, i], e)
    np.testing.assert_array_equal(views[0, 5 + i], e[:, ::-1])
  centre = np.asarray(ip.eval_views(jnp.asarray(images), NO_STATS, plain_config(image_size=6, eval_crops=1)))
  np.testing.assert_array_equal(centre[:, 0], views[:, 4])


def test_mean_subtraction():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (4, 6, 6, 3)).astype(np.uint8)
  stats = ip.image_statistics(ip.Split('t', 4, lambda idx: (images[idx], np.zeros(len(idx))), images.shape[1:]))
  np.testing.assert_allclose(stats['mean_image'], images.mean(0), rtol=1e-6)
  np.testing.assert_allclose(stats['channel_mean'], images.reshape(-1, 3).mean(0), rtol=1e-6)
  for mode, mean in (('pixel', images.mean(0)), ('channel', images.reshape(-1, 3).mean(0))):
    out = ip.eval_views(jnp.asarray(images), stats, plain_config(image_size=6, eval_crops=1, mean_subtraction=mode))
    np.testing.assert_allclose(out[:, 0], images - mean, rtol=1e-5, atol=1e-4)
  np.testing.assert_allclose(stats['eigvals'], np.linalg.eigvalsh(np.cov(images.reshape(-1, 3).T, bias=True)),
                             rtol=1e-4)


def test_pca_noise_statistics():
  """Mean ~0; covariance along eigenvector i ~ 0.1^2 * eigenvalue i; none across eigenvectors (Section 4.1)."""
  eigvecs = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0].astype(np.float32)
  eigvals = np.array([400.0, 25.0, 4.0], np.float32)
  noise = np.asarray(ip.pca_noise(jax.random.key(0), 50_000, jnp.asarray(eigvals), jnp.asarray(eigvecs), 0.1))
  assert np.all(np.abs(noise.mean(0)) < 0.05)
  along = np.cov((noise @ eigvecs).T)
  np.testing.assert_allclose(np.diag(along), 0.01 * eigvals, rtol=0.03)
  assert np.all(np.abs(along - np.diag(np.diag(along))) < 0.02)


def indexed_split(n):
  """A split whose labels are the examples' own indices."""
  images, labels = np.zeros((n, 2, 2, 1), np.uint8), np.arange(n, dtype=np.int32)
  return ip._array_split('toy:train', images, labels)  # pylint: disable=protected-access


def order(split, config, steps, **kwargs):
  dataset = ip.train_dataset(split, config, **kwargs)
  return np.stack([dataset[k]['label'] for k in range(steps)])


def test_batch_order_is_a_pure_function_of_seed_and_step_and_each_epoch_a_permutation():
  split, config = indexed_split(1000), plain_config(batch_size=32, seed=3)
  a = order(split, config, 62)
  np.testing.assert_array_equal(a, order(split, config, 62))
  assert not np.array_equal(a, order(split, plain_config(batch_size=32, seed=4), 62))
  first, second = a[:31].ravel(), a[31:].ravel()  # 1000 // 32 = 31 steps an epoch, 8 examples dropped
  assert len(set(first)) == len(set(second)) == 992 and not np.array_equal(first, second)
  np.testing.assert_array_equal(order(split, config, 10, origin=52), a[52:])  # batch origin + k: resumable anywhere


def test_two_processes_read_disjoint_blocks_whose_union_is_the_global_batch():
  split, config = indexed_split(500), plain_config(batch_size=64)
  full = order(split, config, 5)
  p0 = order(split, config, 5, process_index=0, process_count=2)
  p1 = order(split, config, 5, process_index=1, process_count=2)
  assert p0.shape == p1.shape == (5, 32) and not set(p0.ravel()) & set(p1.ravel())
  np.testing.assert_array_equal(np.concatenate([p0, p1], axis=1), full)


def test_iterator_state_resumes_the_same_batches():
  split, config = indexed_split(300), plain_config(batch_size=16)
  iterator = ip.iterate(ip.train_dataset(split, config), workers=0)
  [next(iterator) for _ in range(5)]
  saved = iterator.get_state()
  rest = [next(iterator)['label'] for _ in range(20)]  # across an epoch boundary (18 steps an epoch)
  ip.close_iterator(iterator)
  resumed = ip.iterate(ip.train_dataset(split, config), workers=0)
  resumed.set_state(saved)
  np.testing.assert_array_equal(np.stack([next(resumed)['label'] for _ in range(20)]), np.stack(rest))
  ip.close_iterator(resumed)


def test_evaluation_reads_every_example_once_across_processes():
  split = indexed_split(103)
  seen = []
  for process in range(2):
    for batch in ip.iterate(ip.eval_dataset(split, 16, process_index=process, process_count=2), workers=0):
      assert batch['label'].shape == (8,)
      seen += batch['label'][batch['mask']].tolist()
  assert sorted(seen) == list(range(103))
  assert sum(int(b['mask'].sum()) for b in ip.eval_dataset(split, 16, num_batches=2)) == 32


def test_missing_dataset_fails_fast_with_instructions(tmp_path, monkeypatch):
  config = imagenet_config.get_config()
  config.data_dir = str(tmp_path)
  monkeypatch.setattr(socket.socket, 'connect', lambda *_: pytest.fail('open_split reached for the network'))
  for name in ('imagenet2012', 'cifar10'):
    config.dataset = name
    with pytest.raises(ip.DataNotFoundError, match='python -m alexnet.prepare'):
      ip.open_split(config, 'train')
    assert not list(tmp_path.iterdir())  # nothing downloaded or written: it fails before any work.
  config.dataset = 'folder:' + str(tmp_path / 'nope')
  with pytest.raises(ip.DataNotFoundError, match='does not exist'):
    ip.open_split(config, 'train')


def test_pipeline_on_tfds_mock_data(tmp_path):
  config = imagenet_config.get_config()
  config.update(dataset='cifar10', data_dir=str(tmp_path), resize_size=0, image_size=28, eval_crops=10,
                batch_size=8, cache_decoded=True, input_workers=0)
  with tfds.testing.mock_data(num_examples=24):
    split = ip.open_split(config, 'train')
    assert split.num_examples == 24 and split.image_shape == (32, 32, 3)
    batch = ip.train_dataset(split, config)[0]
    assert batch['image'].shape == (8, 32, 32, 3) and batch['image'].dtype == np.uint8
    stats = ip.cached_statistics(split, config)
  assert os.listdir(tmp_path / 'alexnet_stats')
  out = ip.augment_train(jnp.asarray(batch['image']), jax.random.key(0), stats, config)
  assert out.shape == (8, 28, 28, 3)
  assert abs(float(out.mean())) < 30  # mean-subtracted
  views = ip.eval_views(jnp.asarray(batch['image']), stats, config)
  assert views.shape == (8, 10, 28, 28, 3)


def test_resize_shorter_side_and_center_crop():
  image = np.zeros((300, 400, 3), np.uint8)
  image[:, 150:250] = 255  # a centred vertical band survives the centre crop
  out = ip.resize_and_center_crop(image, 256)
  assert out.shape == (256, 256, 3)
  assert out[:, 128].min() == 255 and out[:, 0].max() == 0


def test_image_folder_source(tmp_path):
  from PIL import Image
  for label, name in enumerate(('cat', 'dog')):
    os.makedirs(tmp_path / 'train' / name)
    for i in range(3):
      Image.fromarray(np.full((40, 60, 3), 100 * label, np.uint8)).save(tmp_path / 'train' / name / f'{i}.png')
  config = imagenet_config.get_config()
  config.update(dataset=f'folder:{tmp_path}', resize_size=32)
  split = ip.open_split(config, 'train')
  images, labels = split.read(np.arange(6))
  assert split.num_examples == 6 and images.shape == (6, 32, 32, 3)
  np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])


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
  train_split, test_split = ip.open_split(config, 'train'), ip.open_split(config, 'test')
  assert (train_split.num_examples, test_split.num_examples) == (60_000, 10_000)
  assert train_split.image_shape == (28, 28, 1)
  images, labels = train_split.read(np.arange(1000))
  assert images.dtype == np.uint8 and 0 < images.mean() < 255
  assert set(labels) == set(range(10))
  batches = ip.eval_batches(test_split, 4096)
  sizes = [int(b['mask'].sum()) for b in batches]
  assert sizes == [4096, 4096, 1808]


def test_a_failing_read_reaches_the_training_loop():
  def read(indices):
    raise OSError('disk gone')
  split = ip.Split('broken', 100, read, (4, 4, 1))
  with pytest.raises(OSError, match='disk gone'):
    next(ip.iterate(ip.train_dataset(split, plain_config(batch_size=10)), workers=0))


def test_the_reader_threads_stop_when_the_iterator_is_closed():
  split = ip.synthetic_split('train', num_classes=4, image_size=8)
  before = {t.ident for t in threading.enumerate()}
  batches = ip.iterate(ip.train_dataset(split, plain_config(batch_size=8)), workers=0)
  next(batches)
  readers = [t for t in threading.enumerate() if t.ident not in before]
  assert readers  # reading ahead
  ip.close_iterator(batches)
  for t in readers:  # the threads finish their last read, then exit
    t.join(timeout=120)
  assert {t.ident for t in threading.enumerate()} == before
