"""AlexNet's layers (Krizhevsky, Sutskever & Hinton, 2012), written once for one tower, and what the net computes.

The paper's net is a chain of per-tower *stages* separated by *exchanges* (Section 3.5, Figure 2):

    images -> [conv1 > norm > pool > conv2 > norm > pool]   each tower sees only itself
           -> exchange -> [conv3 > conv4 > conv5 > pool]    conv3 reads every tower
           -> exchange -> [fc6] -> exchange -> dropout -> [fc7] -> exchange -> dropout -> fc8 (the head, not split)

`Tower` holds one tower's layers with width = total width / num_towers; `Head` is FC8. `towers_forward` runs the chain
for the towers it is given, with an `exchange` function supplied by the caller; `forward` draws the dropout masks, runs
the towers through a `run_towers` function supplied by the caller and applies the head. This module says *what* is
computed and knows nothing about devices: parallel.py says *where* (a mesh, or one device). num_towers=1 is the
fused, modern net. LRN and max pooling are in ops.py.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from alexnet import ops

Array = jax.Array
Variables = Any
# run_towers(tower_variables, images, fc7_keep_mask) -> (fc7, new_batch_stats, intermediates), as towers_forward.
TowerRunner = Callable[[Variables, Array, Any], tuple]

# Layers whose bias starts at 1 in the paper (Section 5), "to accelerate the early stages of learning by providing the
# ReLUs with positive inputs"; all other biases start at 0.
POSITIVE_BIAS_LAYERS = ('conv2', 'conv4', 'conv5', 'fc6', 'fc7')
# The positive bias each init scheme gives POSITIVE_BIAS_LAYERS. Caffe's reference model uses 0.1: with 1 its authors
# saw the loss stay flat.
INITS = ('paper', 'paper_scaled', 'caffe', 'he')
POSITIVE_BIAS = {'paper': 1.0, 'paper_scaled': 1.0, 'caffe': 0.1, 'he': 0.0}
# Section 5's weight standard deviation, and each layer's fan-in in the paper's two-tower ImageNet net (conv2, conv4
# and conv5 read their own tower's 48, 192 and 192 maps; conv3, fc6, fc7 and fc8 read every tower's). 'paper_scaled'
# keeps the paper's per-layer gain, std * sqrt(fan-in), on a net of other widths: sigma_l = 0.01 sqrt(F_paper / F_l).
PAPER_STD = 0.01
PAPER_FAN_IN = {'conv1': 11 * 11 * 3, 'conv2': 5 * 5 * 48, 'conv3': 3 * 3 * 256, 'conv4': 3 * 3 * 192,
                'conv5': 3 * 3 * 192, 'fc6': 6 * 6 * 256, 'fc7': 4096, 'fc8': 4096}
# Section 3.3's constants (k, n, alpha, beta): the paper's, and Caffe's, whose alpha divides the sum by n.
LRN_CONSTANTS = {'paper': {'size': 5, 'k': 2.0, 'alpha': 1e-4, 'beta': 0.75},
                 'caffe': {'size': 5, 'k': 1.0, 'alpha': 1e-4 / 5, 'beta': 0.75}}
LRN_FORMS = (*LRN_CONSTANTS, 'none', 'batchnorm')
# Section 3.1: ReLU, f(x) = max(0, x), against the saturating tanh that Figure 1 compares it with.
ACTIVATIONS = {'relu': nn.relu, 'tanh': jnp.tanh}
POOLS = {'overlapping': (3, 2), 'non_overlapping': (2, 2)}  # (window, stride): Section 3.4's z=3, s=2, or z=s=2.
DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def init_std(init: str, layer: str, fan_in: int) -> float:
  """The standard deviation of a layer's initial weights under `init` (INITS), for a kernel with `fan_in` inputs:
  Section 5's 0.01 ('paper', 'caffe'), the paper's gain at this fan-in ('paper_scaled'), or He et al.'s
  sqrt(2 / fan-in)."""
  if init == 'paper_scaled':
    return PAPER_STD * math.sqrt(PAPER_FAN_IN[layer] / fan_in)
  if init == 'he':
    return math.sqrt(2.0 / fan_in)
  return {'paper': PAPER_STD, 'caffe': PAPER_STD}[init]


def kernel_init(init: str, layer: str) -> Callable:
  """Gaussian weights with `init_std`'s deviation ('he': truncated at 2 deviations, rescaled to keep it)."""
  if init == 'he':
    return nn.initializers.variance_scaling(2.0, 'fan_in', 'truncated_normal')

  def normal(key, shape, dtype=jnp.float32):
    return init_std(init, layer, math.prod(shape[:-1])) * jax.random.normal(key, shape, dtype)
  return normal


def bias_init(init: str, layer: str, positive_bias: float = -1.0) -> Callable:
  """Zeros, except POSITIVE_BIAS_LAYERS: `positive_bias` there, or the scheme's own (POSITIVE_BIAS) when < 0."""
  if layer in POSITIVE_BIAS_LAYERS:
    return nn.initializers.constant(POSITIVE_BIAS[init] if positive_bias < 0 else positive_bias)
  return nn.initializers.zeros


class Tower(nn.Module):
  """One tower's layers (Section 3.5). Widths are totals over all towers; this tower owns width // num_towers."""
  num_towers: int = 2
  conv_features: Sequence[int] = (96, 256, 384, 384, 256)
  conv_kernels: Sequence[int] = (11, 5, 3, 3, 3)
  conv1_stride: int = 4
  conv1_padding: Any = 'VALID'  # 227 input; ((1, 2), (1, 2)) makes 224 give 55x55 too, as cuda-convnet did.
  fc_features: Sequence[int] = (4096, 4096)
  lrn: str = 'paper'
  activation: str = 'relu'
  pool_window: int = 3  # Section 3.4: overlapping pooling, z=3, s=2. (2, 2) is the traditional non-overlapping one.
  pool_stride: int = 2
  pool_padding: str = 'VALID'
  init_scheme: str = 'paper'
  positive_bias: float = -1.0  # bias of conv2, conv4, conv5, fc6, fc7 at init; < 0: the init scheme's own.
  kernels: str = 'auto'  # ops.KERNELS: the hand-written forms of pooling and LRN, or the library ones.
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None  # set by the runner so batch statistics span the data-parallel batch.

  def setup(self):
    # Kept beside validation.validate: a Tower is also built from unvalidated configs (summary, import_weights,
    # experiments, tests), and `width` below would silently round an indivisible width down.
    for name, total in zip(['conv_features', 'fc_features'], [self.conv_features, self.fc_features]):
      if any(w % self.num_towers for w in total):
        raise ValueError(f'{name} {tuple(total)} are not divisible by num_towers={self.num_towers}')
    self.act = ACTIVATIONS[self.activation]
    self.cpu_forms = ops.cpu_kernels(self.kernels, self.dtype)
    width = lambda w: w // self.num_towers
    strides = (self.conv1_stride, 1, 1, 1, 1)
    paddings = (self.conv1_padding, 'SAME', 'SAME', 'SAME', 'SAME')
    self.convs = [
        nn.Conv(width(f), (k, k), (s, s), padding=p, dtype=self.dtype,
                kernel_init=kernel_init(self.init_scheme, f'conv{i}'),
                bias_init=bias_init(self.init_scheme, f'conv{i}', self.positive_bias), name=f'conv{i}')
        for i, (f, k, s, p) in enumerate(zip(self.conv_features, self.conv_kernels, strides, paddings), start=1)]
    self.fcs = [
        nn.Dense(width(f), dtype=self.dtype, kernel_init=kernel_init(self.init_scheme, f'fc{i}'),
                 bias_init=bias_init(self.init_scheme, f'fc{i}', self.positive_bias), name=f'fc{i}')
        for i, f in enumerate(self.fc_features, start=6)]
    if self.lrn == 'batchnorm':
      self.norms = [nn.BatchNorm(momentum=0.9, axis_name=self.bn_axis_name, dtype=self.dtype, name=f'bn{i}')
                    for i in (1, 2)]

  def _norm(self, i: int, x: Array, train: bool) -> Array:
    """Section 3.3's response normalisation with LRN_CONSTANTS[lrn], or batch normalisation in its place."""
    if self.lrn == 'batchnorm':
      return self.norms[i](x, use_running_average=not train)
    return ops.local_response_norm(x, **LRN_CONSTANTS[self.lrn], cpu_form=self.cpu_forms)

  def _pool(self, x: Array) -> Array:
    return ops.max_pool(x, self.pool_window, self.pool_stride, self.pool_padding, self.cpu_forms)

  def stage1(self, images: Array, train: bool = False) -> Array:
    """conv1 > ReLU > norm > pool > conv2 > ReLU > norm > pool: this tower's own maps only (ReLU or tanh)."""
    x = images.astype(self.dtype)
    for i in range(2):
      x = self._record(f'conv{i + 1}', self.act(self.convs[i](x)))
      if self.lrn != 'none':
        x = self._record(f'norm{i + 1}', self._norm(i, x, train))
      x = self._record(f'pool{i + 1}', self._pool(x))
    return x

  def stage2(self, maps: Array) -> Array:
    """conv3 (reads every tower's maps) > conv4 > conv5 (own tower) > pool, flattened."""
    x = maps
    for i, conv in enumerate(self.convs[2:], start=3):
      x = self._record(f'conv{i}', self.act(conv(x)))
    x = self._record('pool5', self._pool(x))
    return x.reshape(x.shape[0], -1)

  def fc6(self, features: Array) -> Array:
    return self._record('fc6', self.act(self.fcs[0](features)))

  def fc7(self, features: Array) -> Array:
    return self._record('fc7', self.act(self.fcs[1](features)))

  def _record(self, name: str, x: Array) -> Array:
    """Keeps a layer's output as '<name>_output' in the 'intermediates' collection when it is mutable (summary,
    tests); free otherwise."""
    self.sow('intermediates', f'{name}_output', x, reduce_fn=lambda _, y: y, init_fn=lambda: None)
    return x

  def __call__(self, images: Array, train: bool = False) -> Array:
    """Runs every layer once with a stand-in exchange (this tower's output repeated) so `init` sees every shape."""
    exchange = lambda x: jnp.concatenate([x] * self.num_towers, axis=-1)
    x = exchange(self.stage1(images, train))
    x = exchange(self.stage2(x))
    x = exchange(self.fc6(x))
    return self.fc7(x)


class Head(nn.Module):
  """FC8: reads every tower's FC7 and is not split (Section 3.5)."""
  num_classes: int
  init_scheme: str = 'paper'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, features: Array) -> Array:
    logits = nn.Dense(self.num_classes, dtype=self.dtype, kernel_init=kernel_init(self.init_scheme, 'fc8'),
                      bias_init=nn.initializers.zeros, name='fc8')(features)
    return logits.astype(jnp.float32)


def init_variables(tower: Tower, head: Head, rng: Array, image_shape: Sequence[int]) -> Variables:
  """Per-tower variables stacked on a leading tower axis, so a mesh can shard them over `tower`.

  Returns {'params': {'towers': ..., 'head': ...}} plus {'batch_stats': {'towers': ...}} with lrn='batchnorm'.
  """
  tower_rng, head_rng = jax.random.split(rng)
  dummy = jnp.zeros((1, *image_shape), jnp.float32)
  per_tower = [tower.init(jax.random.fold_in(tower_rng, t), dummy) for t in range(tower.num_towers)]
  stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *per_tower)
  variables = {'params': {'towers': stacked['params'],
                          'head': head.init(head_rng, jnp.zeros((1, tower.fc_features[-1])))['params']}}
  if 'batch_stats' in stacked:
    variables['batch_stats'] = {'towers': stacked['batch_stats']}
  return variables


def towers_forward(tower: Tower, tower_variables: Variables, images: Array, fc7_keep_mask: Array | None, *,
                   exchange: Callable[[list[Array]], Array], dropout_rate: float, train: bool,
                   capture_intermediates: bool = False) -> tuple[Array, Variables | None, list[dict] | None]:
  """Runs the stages of the towers whose variables are given (stacked on axis 0), joined by `exchange`.

  `exchange` takes this caller's towers' outputs (a list) and returns every tower's outputs concatenated on the last
  axis. Returns (fc7, new_batch_stats, intermediates): the caller's towers' FC7 activations (concatenated), their
  updated batch statistics (None unless training with batchnorm) and, with capture_intermediates, a list of each
  tower's layer outputs (else None).
  """
  num_local = jax.tree.leaves(tower_variables)[0].shape[0]
  local = [jax.tree.map(lambda a, t=t: a[t], tower_variables) for t in range(num_local)]
  update_stats = train and 'batch_stats' in tower_variables
  mutable = ['batch_stats'] * update_stats + ['intermediates'] * capture_intermediates
  intermediates = [{} for _ in local]

  def run(method, xs, *args):
    outs = []
    for t, x in enumerate(xs):
      if mutable:
        y, updates = tower.apply(local[t], x, *args, method=method, mutable=mutable)
        intermediates[t].update(updates.pop('intermediates', {}))
        local[t] = {**local[t], **updates}
      else:
        y = tower.apply(local[t], x, *args, method=method)
      outs.append(y)
    return outs

  n = len(local)
  x = exchange(run(Tower.stage1, [images] * n, train))
  x = exchange(run(Tower.stage2, [x] * n))
  x = ops.dropout(exchange(run(Tower.fc6, [x] * n)), fc7_keep_mask, dropout_rate)
  fc7 = jnp.concatenate(run(Tower.fc7, [x] * n), axis=-1)
  new_stats = jax.tree.map(lambda *xs: jnp.stack(xs), *[v['batch_stats'] for v in local]) if update_stats else None
  return fc7, new_stats, intermediates if capture_intermediates else None


def dropout_masks(rng: Array | None, batch: int, fc_features: Sequence[int], rate: float
                  ) -> tuple[Array | None, Array | None]:
  """Section 4.2: the keep masks of the two dropout layers (on FC6's output, read by FC7, and on FC7's, read by FC8),
  drawn for the whole batch so that every way of running the towers drops the same units. (None, None) at rate 0."""
  if rate == 0.0:
    return None, None
  if rng is None:
    raise ValueError('train=True with dropout needs an rng')
  rng6, rng7 = jax.random.split(rng)
  keep = 1.0 - rate
  return (jax.random.bernoulli(rng6, keep, (batch, fc_features[0])),
          jax.random.bernoulli(rng7, keep, (batch, fc_features[1])))


def forward(tower: Tower, head: Head, variables: Variables, images: Array, run_towers: TowerRunner, *,
            dropout_rate: float, train: bool = False, rng: Array | None = None
            ) -> tuple[Array, Variables | None, list[dict] | None]:
  """The whole net: dropout masks drawn for the batch, the towers (run by `run_towers`, which decides where), then
  dropout and FC8 on every tower's FC7 (Section 3.5: FC8 is not split).

  Returns (logits, new_batch_stats, intermediates): new_batch_stats is {'towers': ...} when training with
  lrn='batchnorm', else None; intermediates is what `run_towers` returned.
  """
  fc7_mask, fc8_mask = dropout_masks(rng, images.shape[0], tower.fc_features, dropout_rate) if train else (None, None)
  tower_variables = {k: v['towers'] for k, v in variables.items()}
  fc7, new_stats, intermediates = run_towers(tower_variables, images, fc7_mask)
  logits = head.apply({'params': variables['params']['head']}, ops.dropout(fc7, fc8_mask, dropout_rate))
  return logits, None if new_stats is None else {'towers': new_stats}, intermediates


def conv_padding(spec: str) -> Any:
  """A config's padding: 'VALID', 'SAME', or 'lo,hi' pixels on each spatial side (ValueError for anything else)."""
  if spec in ops.PADDINGS:
    return spec
  lo, hi = (int(p) for p in spec.split(','))
  return ((lo, hi), (lo, hi))


def from_config(config) -> tuple[Tower, Head]:
  """The Tower and Head that a config describes (see configs/imagenet.py for the fields; validation.validate checks
  them)."""
  dtype = DTYPES[config.dtype]
  window, stride = POOLS[config.pool]
  tower = Tower(num_towers=config.num_towers, conv_features=tuple(config.conv_features),
                conv_kernels=tuple(config.conv_kernels), conv1_stride=config.conv1_stride,
                conv1_padding=conv_padding(config.conv1_padding), fc_features=tuple(config.fc_features),
                lrn=config.lrn, activation=config.activation, pool_window=window, pool_stride=stride,
                pool_padding=config.pool_padding, init_scheme=config.init, positive_bias=config.positive_bias,
                kernels=config.kernels, dtype=dtype)
  return tower, Head(config.num_classes, init_scheme=config.init, dtype=dtype)
