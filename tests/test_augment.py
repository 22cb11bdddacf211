"""alexnet/augment.py on the device: the paper's crops, flips, 10-crop layout, mean subtraction, PCA noise."""
import jax
import jax.numpy as jnp
import numpy as np

from alexnet import augment
from alexnet.data import splits
from alexnet.data import statistics
from tests.input_configs import plain_config


def numbered_images(n, h, w, c=1):
  """Every pixel holds a distinct value 1 + (row * w + col), the same in every channel."""
  base = 1 + np.arange(h * w, dtype=np.float32).reshape(h, w)
  return np.broadcast_to(base[None, :, :, None], (n, h, w, c)).copy()


NO_STATS = {'mean_image': 0.0, 'channel_mean': 0.0, 'eigvals': jnp.ones(1), 'eigvecs': jnp.ones((1, 1))}


def test_random_crops_have_the_right_size_and_cover_every_position():
  images = numbered_images(400, 12, 12)
  out = np.asarray(augment.augment_train(jnp.asarray(images), jax.random.key(0), NO_STATS,
                                         plain_config(image_size=8, random_crop=True)))
  assert out.shape == (400, 8, 8, 1)
  tops, lefts = np.divmod(out[:, 0, 0, 0].astype(int) - 1, 12)
  for i in range(len(out)):
    np.testing.assert_array_equal(out[i], images[0, tops[i]:tops[i] + 8, lefts[i]:lefts[i] + 8])
  assert set(tops) == set(range(5)) and set(lefts) == set(range(5))


def test_pad_and_crop_for_small_images():
  images = numbered_images(200, 6, 6)
  out = np.asarray(augment.augment_train(jnp.asarray(images), jax.random.key(1), NO_STATS,
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
  out = np.asarray(augment.augment_train(jnp.asarray(images), jax.random.key(2), NO_STATS,
                                         plain_config(image_size=5, random_flip=True)))
  flipped = np.array([np.array_equal(o, images[0, :, ::-1]) for o in out])
  same = np.array([np.array_equal(o, images[0]) for o in out])
  assert np.all(flipped ^ same)
  assert 100 < flipped.sum() < 156


def test_ten_crop_layout():
  images = numbered_images(2, 10, 10, 3)
  views = np.asarray(augment.eval_views(jnp.asarray(images), NO_STATS, plain_config(image_size=6, eval_crops=10)))
  assert views.shape == (2, 10, 6, 6, 3)
  img = images[0]
  expected = [img[:6, :6], img[:6, 4:], img[4:, :6], img[4:, 4:], img[2:8, 2:8]]
  for i, e in enumerate(expected):
    np.testing.assert_array_equal(views[0, i], e)
    np.testing.assert_array_equal(views[0, 5 + i], e[:, ::-1])
  centre = np.asarray(augment.eval_views(jnp.asarray(images), NO_STATS, plain_config(image_size=6, eval_crops=1)))
  np.testing.assert_array_equal(centre[:, 0], views[:, 4])


def test_mean_subtraction():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (4, 6, 6, 3)).astype(np.uint8)
  stats = statistics.image_statistics(splits.Split('t', 4, lambda idx: (images[idx], np.zeros(len(idx))),
                                                   images.shape[1:]))
  np.testing.assert_allclose(stats['mean_image'], images.mean(0), rtol=1e-6)
  np.testing.assert_allclose(stats['channel_mean'], images.reshape(-1, 3).mean(0), rtol=1e-6)
  for mode, mean in (('pixel', images.mean(0)), ('channel', images.reshape(-1, 3).mean(0))):
    out = augment.eval_views(jnp.asarray(images), stats,
                             plain_config(image_size=6, eval_crops=1, mean_subtraction=mode))
    np.testing.assert_allclose(out[:, 0], images - mean, rtol=1e-5, atol=1e-4)
  np.testing.assert_allclose(stats['eigvals'], np.linalg.eigvalsh(np.cov(images.reshape(-1, 3).T, bias=True)),
                             rtol=1e-4)


def test_pca_noise_statistics():
  """Mean ~0; covariance along eigenvector i ~ 0.1^2 * eigenvalue i; none across eigenvectors (Section 4.1)."""
  eigvecs = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0].astype(np.float32)
  eigvals = np.array([400.0, 25.0, 4.0], np.float32)
  noise = np.asarray(augment.pca_noise(jax.random.key(0), 50_000, jnp.asarray(eigvals), jnp.asarray(eigvecs), 0.1))
  assert np.all(np.abs(noise.mean(0)) < 0.05)
  along = np.cov((noise @ eigvecs).T)
  np.testing.assert_allclose(np.diag(along), 0.01 * eigvals, rtol=0.03)
  assert np.all(np.abs(along - np.diag(np.diag(along))) < 0.02)
