"""The paper's augmentation on the device, inside the jitted step: Section 4.1's random crops, horizontal flips and PCA
colour noise, Section 2's mean subtraction, and the evaluation views (the centre crop, or the 10 crops of Section 4.1).

The host delivers uint8 images at the stored size (alexnet/data); everything random here is keyed by the step's rng,
so a step's inputs are a function of (seed, step).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

MEAN_STATISTIC = {'pixel': 'mean_image', 'channel': 'channel_mean'}  # config.mean_subtraction -> statistic.


def subtract_mean(images: jax.Array, stats, config: ml_collections.ConfigDict) -> jax.Array:
  """Section 2: float32 images less the training set's mean image ('pixel'), its per-channel mean ('channel'), or
  nothing ('none'); validation.validate checks the choice."""
  x = images.astype(jnp.float32)
  return x if config.mean_subtraction == 'none' else x - stats[MEAN_STATISTIC[config.mean_subtraction]]


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
  x = subtract_mean(images, stats, config)
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
  """[n, views, size, size, C]: the centre crop (eval_crops=1) or the paper's 10 crops (eval_crops=10; validation
  checks it is one of the two)."""
  x = subtract_mean(images, stats, config)
  size = config.image_size
  offsets = ten_crop_offsets(x.shape[1], x.shape[2], size)
  offsets = offsets if config.eval_crops == 10 else offsets[-1:]
  views = [x[:, t:t + size, l:l + size] for t, l in offsets]
  if config.eval_crops == 10:
    views += [v[:, :, ::-1] for v in views]
  return jnp.stack(views, axis=1) * config.input_scale
