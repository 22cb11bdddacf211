"""Figure 1's setting (Section 3.1): the four-layer convolutional net with ReLU or tanh units, trained without
regularisation by plain SGD with momentum on a fixed batch order, its training error measured on every batch before
its update. The program that runs it is experiments/figure1.py; configs/figure1.py says what the setting is and why.
"""
from __future__ import annotations

import functools
import glob
import math
import os
import time
from typing import Any, Sequence

from absl import logging
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from alexnet import ops
from alexnet import progress
from alexnet import provenance
from alexnet import run_summary
from alexnet import steps
from alexnet.data import sources
from alexnet.data import splits

UNITS = {'relu': nn.relu, 'tanh': jnp.tanh}
INITS = ('lecun', 'fixed')
TRAIN_ERRORS = ('window', 'pass')
# What a run executes, for summary.json's `dirty`.
CODE = ('alexnet', 'configs', 'experiments/figure1.py', 'experiments/figures/figure1.py')
EVAL_BATCH = 1_000


class FourLayerNet(nn.Module):
  """Three convolutions, each followed by the unit and a 3x3 stride-2 max pool, and one fully connected layer; every
  weight N(0, 1 / fan-in) ('lecun') or N(0, init_std) ('fixed'), every bias 0."""
  conv_features: Sequence[int] = (32, 32, 64)
  kernel: int = 5
  num_classes: int = 10
  activation: str = 'relu'
  weight_init: str = 'lecun'  # config.init ('init' is a Module's own method).
  init_std: float = 0.01

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    unit = UNITS[self.activation]
    init = (nn.initializers.variance_scaling(1.0, 'fan_in', 'normal') if self.weight_init == 'lecun' else
            nn.initializers.normal(self.init_std))
    for i, features in enumerate(self.conv_features, start=1):
      x = unit(nn.Conv(features, (self.kernel, self.kernel), padding='SAME', kernel_init=init, name=f'conv{i}')(x))
      x = ops.max_pool(x, 3, 2, 'SAME', ops.cpu_kernels('auto'))
    return nn.Dense(self.num_classes, kernel_init=init, name=f'fc{len(self.conv_features) + 1}')(
        x.reshape(x.shape[0], -1))


def validate(config: ml_collections.ConfigDict) -> None:
  """ValueError naming the field for a config this program cannot run."""
  for field, allowed in (('activation', sorted(UNITS)), ('init', INITS), ('train_error', TRAIN_ERRORS)):
    if config[field] not in allowed:
      raise ValueError(f'{field}={config[field]!r}: expected one of {list(allowed)}')
  for field in ('batch_size', 'num_steps', 'train_error_window', 'log_every_steps', 'conv_kernel', 'pass_examples',
                'pass_points_per_decade'):
    if config[field] < 1:
      raise ValueError(f'{field}={config[field]} must be at least 1')
  for field in ('learning_rate', 'init_std'):
    if not config[field] > 0:
      raise ValueError(f'{field}={config[field]} must be positive')


def load(config: ml_collections.ConfigDict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{'train', 'minival', 'test'}: (float32 images, int32 labels), mean-subtracted and, with config.standardise,
  divided by the training pixels' standard deviation. minival is held out of train as in every run of this project
  (alexnet/data/splits.py)."""
  train = sources.open_split(config, config.train_split)
  test = sources.open_split(config, config.test_split)
  train, minival = splits.hold_out_minival(train, config.minival_examples)
  if minival is None:
    raise ValueError('minival_examples must be positive: minival is reported beside test')
  raw = {name: split.read(np.arange(split.num_examples))
         for name, split in (('train', train), ('minival', minival), ('test', test))}
  pixels = raw['train'][0].astype(np.float64)
  mean, std = pixels.mean(), pixels.std() if config.standardise else 1.0
  return {name: (((images - mean) / std).astype(np.float32), labels) for name, (images, labels) in raw.items()}


def batch_order(num_examples: int, batch_size: int, num_steps: int, seed: int) -> np.ndarray:
  """[num_steps, batch_size] training indices: each epoch a new permutation, the last partial batch dropped."""
  per_epoch = num_examples // batch_size
  if per_epoch == 0:
    raise ValueError(f'batch_size={batch_size} exceeds the {num_examples} training examples')
  rng = np.random.default_rng(seed)
  epochs = -(-num_steps // per_epoch)
  order = np.concatenate([rng.permutation(num_examples)[:per_epoch * batch_size] for _ in range(epochs)])
  return order[:num_steps * batch_size].reshape(num_steps, batch_size)


def make_train_step(model: FourLayerNet, tx: optax.GradientTransformation, compiler_options=None):
  """A pure jitted step: (params, opt_state, images, labels) -> (params, opt_state, loss, batch error before it)."""
  @functools.partial(jax.jit, compiler_options=compiler_options)
  def train_step(params, opt_state, images, labels):
    def loss_fn(p):
      logits = model.apply({'params': p}, images)
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), logits
    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, jnp.mean(jnp.argmax(logits, -1) != labels)
  return train_step


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
  """Element i: the mean of values[max(0, i - window + 1) : i + 1]."""
  sums = np.cumsum(np.concatenate([[0.0], values]))
  ends = np.arange(1, len(values) + 1)
  starts = np.maximum(0, ends - window)
  return (sums[ends] - sums[starts]) / (ends - starts)


def pass_steps(num_steps: int, per_decade: int) -> list[int]:
  """The steps at which 'pass' measures the training error: 10^(k / per_decade) rounded, k = 0, 1, ..., the repeats
  dropped, and the last step."""
  count = int(math.floor(per_decade * math.log10(num_steps))) + 1
  return sorted({int(round(10 ** (k / per_decade))) for k in range(count)} | {num_steps})


@functools.partial(jax.jit, static_argnums=0)
def _wrong(model: FourLayerNet, params, images: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
  """How many of the batch's images miss in the top 1 and in the top 5 (steps.topk_errors, summed)."""
  top1, top5 = steps.topk_errors(model.apply({'params': params}, images), labels)
  return top1.sum(), top5.sum()


@jax.jit
def _finite(params) -> jax.Array:
  return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(params)]))


def errors(model: FourLayerNet, params, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
  """Top-1 and top-5 error of `params` on a whole split."""
  counts = np.zeros(2)
  for i in range(0, len(images), EVAL_BATCH):
    counts += np.array(jax.device_get(_wrong(model, params, images[i:i + EVAL_BATCH], labels[i:i + EVAL_BATCH])),
                       np.float64)
  return {'top1_error': counts[0] / len(images), 'top5_error': counts[1] / len(images)}


def _start_workdir(config: ml_collections.ConfigDict, workdir: str) -> progress.Writer:
  """config.json written; the events of an interrupted earlier attempt removed (a run starts again from step 0)."""
  os.makedirs(workdir, exist_ok=True)
  for stale in glob.glob(os.path.join(workdir, 'events.out.tfevents.*')):
    logging.warning('Removing %s: an interrupted run starts again from step 0.', stale)
    os.remove(stale)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort(indent=2))
  return progress.Writer(workdir)


def _write_steps(writer: progress.Writer, first: int, batch_errors: np.ndarray, losses: np.ndarray,
                 window: int, tag: str) -> None:
  """Events for steps first+1 .. len(batch_errors): `tag` the error over the trailing window of all steps so far;
  the last of them also in the log."""
  smoothed = trailing_mean(batch_errors, window)
  for i in range(first, len(batch_errors)):
    writer.write_scalars(i + 1, {tag: float(smoothed[i]),
                                 'train/batch_top1_error': float(batch_errors[i]), 'train/loss': float(losses[i])},
                         log=i + 1 == len(batch_errors))


def _fit(config: ml_collections.ConfigDict, model: FourLayerNet, images: np.ndarray, labels: np.ndarray,
         writer: progress.Writer, meter: progress.Progress) -> tuple[Any, np.ndarray, int | None, list[float]]:
  """(params, every step's batch error, the step whose loss was not finite or None, the 'pass' errors measured):
  the steps, their events. With 'pass', train/top1_error is the error on the first config.pass_examples training
  images at pass_steps (on finite parameters only: a diverging run's steps from the first non-finite update on are
  not measured; the time it takes is left out of the training rate), and the trailing window is
  train/window_top1_error."""
  params = model.init(jax.random.key(config.seed), images[:1])['params']
  by_pass = config.train_error == 'pass'
  window_tag = 'train/window_top1_error' if by_pass else 'train/top1_error'
  measure_at = set(pass_steps(config.num_steps, config.pass_points_per_decade)) if by_pass else set()
  fixed_set, measured = (images[:config.pass_examples], labels[:config.pass_examples]), []
  tx = optax.sgd(config.learning_rate, momentum=config.momentum)
  opt_state, train_step = tx.init(params), make_train_step(model, tx, steps.compiler_options(config))
  pending, batch_errors, losses, diverged = [], np.zeros(0), np.zeros(0), None
  for step, indices in enumerate(batch_order(len(images), config.batch_size, config.num_steps, config.seed), 1):
    params, opt_state, loss, error = train_step(params, opt_state, images[indices], labels[indices])
    pending.append((loss, error))
    meter(step)
    if step in measure_at:
      with meter.timed('train-error pass'):
        if not bool(_finite(params)):
          measure_at = set()
        else:
          measured.append(errors(model, params, *fixed_set)['top1_error'])
          writer.write_scalars(step, {'train/top1_error': measured[-1]})
    if step % config.log_every_steps == 0 or step == config.num_steps:
      fetched = np.array(jax.device_get(pending), np.float64).reshape(-1, 2)
      pending, first = [], len(batch_errors)
      bad = np.nonzero(~np.isfinite(fetched[:, 0]))[0]
      if len(bad):
        diverged, fetched = first + int(bad[0]) + 1, fetched[:bad[0] + 1]
      losses, batch_errors = np.concatenate([losses, fetched[:, 0]]), np.concatenate([batch_errors, fetched[:, 1]])
      _write_steps(writer, first, batch_errors, losses, config.train_error_window, window_tag)
      if diverged:
        logging.warning('The loss is not finite at step %d: the run ends there.', diverged)
        break
  return params, batch_errors, diverged, measured


def train(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains for config.num_steps (or until the loss is not finite); returns and writes summary.json."""
  validate(config)
  started, code = time.time(), provenance.code_version(CODE)
  data = load(config)
  writer = _start_workdir(config, workdir)
  images, _ = data['train']
  model = FourLayerNet(tuple(config.conv_features), config.conv_kernel, config.num_classes, config.activation,
                       config.init, config.init_std)
  meter = progress.Progress(writer, config.num_steps, config.log_every_steps, config.batch_size)
  params, batch_errors, diverged, measured = _fit(config, model, *data['train'], writer, meter)
  steps_done = len(batch_errors)
  minival, test = errors(model, params, *data['minival']), errors(model, params, *data['test'])
  writer.close()
  fields = {'config_name': config.config_name, 'step': steps_done,
            'epoch': steps_done * config.batch_size / len(images), 'top1_error': test['top1_error'],
            'top5_error': test['top5_error'], 'test_split': config.test_split,
            'minival_top1_error': minival['top1_error'], 'minival_top5_error': minival['top5_error'],
            'train_images_per_sec': meter.images_per_sec, 'wall_seconds': time.time() - started, **code,
            'minival_history': [{'step': steps_done, **minival}]}
  return run_summary.write(
      workdir, fields, diverged_at_step=diverged,
      train_top1_error_end=measured[-1] if measured else float(
          trailing_mean(batch_errors, config.train_error_window)[-1]))
