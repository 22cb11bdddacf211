"""AlexNet's layers (Krizhevsky, Sutskever & Hinton, 2012), written once for one tower.

The paper's net is a chain of per-tower *stages* separated by *exchanges* (Section 3.5, Figure 2):

    images -> [conv1 > norm > pool > conv2 > norm > pool]   each tower sees only itself
           -> exchange -> [conv3 > conv4 > conv5 > pool]    conv3 reads every tower
           -> exchange -> [fc6] -> exchange -> dropout -> [fc7] -> (exchange, dropout, fc8: the head)

`Tower` holds one tower's layers with width = total width / num_towers. `towers_forward` runs the chain for the towers
it is given, with an `exchange` function supplied by the caller: this module knows nothing about devices (see
parallel.py for how towers map onto a mesh or one device). num_towers=1 is the fused, modern net.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
Variables = Any

# Layers whose bias starts at 1 in the paper (Section 5), "to accelerate the early stages of learning by providing the
# ReLUs with positive inputs"; all other biases start at 0.
POSITIVE_BIAS_LAYERS = ('conv2', 'conv4', 'conv5', 'fc6', 'fc7')
LRN_FORMS = ('paper', 'caffe', 'none', 'batchnorm')
INITS = ('paper', 'paper_scaled', 'caffe', 'he')
# Section 5's weight standard deviation, and each layer's fan-in in the paper's two-tower ImageNet net (conv2, conv4
# and conv5 read their own tower's 48, 192 and 192 maps; conv3, fc6, fc7 and fc8 read every tower's). 'paper_scaled'
# keeps the paper's per-layer gain, std * sqrt(fan-in), on a net of other widths: sigma_l = 0.01 sqrt(F_paper / F_l).
PAPER_STD = 0.01
PAPER_FAN_IN = {'conv1': 11 * 11 * 3, 'conv2': 5 * 5 * 48, 'conv3': 3 * 3 * 256, 'conv4': 3 * 3 * 192,
                'conv5': 3 * 3 * 192, 'fc6': 6 * 6 * 256, 'fc7': 4096, 'fc8': 4096}
# Section 3.1: ReLU, f(x) = max(0, x), against the saturating tanh that Figure 1 compares it with.
ACTIVATIONS = {'relu': nn.relu, 'tanh': jnp.tanh}
POOLS = {'overlapping': (3, 2), 'non_overlapping': (2, 2)}  # (window, stride): Section 3.4's z=3, s=2, or z=s=2.
DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
# 'cpu': max pooling as strided slices and LRN with an exp-log power and a hand-written gradient, the forms XLA:CPU runs
# fastest (README, Train-step speed); 'generic': nn.max_pool and the LRN formula differentiated by JAX. 'auto' picks
# by what was measured fastest: the 'cpu' forms on the CPU and in bfloat16 on a GPU (H100: 9% faster), 'generic' in
# float32 on a GPU (5% faster). The same numbers either way (tests).
KERNELS = ('auto', 'cpu', 'generic')


def cpu_kernels(kernels: str, dtype: Any = jnp.float32) -> bool:
  if kernels not in KERNELS:
    raise ValueError(f'kernels must be one of {KERNELS}, got {kernels!r}')
  if kernels == 'auto':
    return jax.default_backend() == 'cpu' or jnp.dtype(dtype) == jnp.bfloat16
  return kernels == 'cpu'


def channel_window_sum(x: Array, size: int) -> Array:
  """sum_{j=i-size/2}^{i+size/2} x_j over the last axis, zero beyond the edges."""
  half = size // 2
  return jax.lax.reduce_window(x, 0.0, jax.lax.add, (1,) * (x.ndim - 1) + (size,), (1,) * x.ndim,
                               [(0, 0)] * (x.ndim - 1) + [(half, half)])


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _lrn(x: Array, size: int, k: float, alpha: float, beta: float) -> Array:
  return _lrn_fwd(x, size, k, alpha, beta)[0]


def _lrn_fwd(x, size, k, alpha, beta):
  denominator = k + alpha * channel_window_sum(jnp.square(x), size)
  scale = jnp.exp(-beta * jnp.log(denominator))  # = denominator ** -beta; XLA:CPU's pow is 3x slower.
  return x * scale, (x, denominator, scale)


def _lrn_bwd(size, k, alpha, beta, residuals, g):
  # dy_i/dx_j = [i == j] d_i^-beta - 2 alpha beta x_i x_j d_i^(-beta-1) for j in window(i); windows are symmetric.
  x, denominator, scale = residuals
  return (g * scale - 2.0 * alpha * beta * x * channel_window_sum(g * x * scale / denominator, size),)


_lrn.defvjp(_lrn_fwd, _lrn_bwd)


def local_response_norm(x: Array, *, size: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75,
                        cpu_form: bool = True) -> Array:
  """Section 3.3: b_i = a_i / (k + alpha * sum_{j=i-n/2}^{i+n/2} a_j^2)^beta over the channel axis (last).

  `alpha` multiplies the plain sum (the paper's form); Caffe's form passes alpha / n. Channels beyond the edges count
  as zero, as in the paper's sum limits max(0, i-n/2) .. min(N-1, i+n/2). Computed in float32. `cpu_form`: the power
  as exp-log and a hand-written gradient (one more windowed sum), which XLA:CPU runs faster; otherwise the formula as
  written, differentiated by JAX.
  """
  x32 = x.astype(jnp.float32)
  if cpu_form:
    return _lrn(x32, size, k, alpha, beta).astype(x.dtype)
  return (x32 * (k + alpha * channel_window_sum(jnp.square(x32), size)) ** -beta).astype(x.dtype)


def _explicit_padding(padding: str, window: int, stride: int, sizes) -> list[tuple[int, int]]:
  """(low, high) padding of each spatial dimension for 'VALID' or 'SAME', as lax.reduce_window would apply it."""
  if padding == 'VALID':
    return [(0, 0)] * len(sizes)
  totals = [max((-(-n // stride) - 1) * stride + window - n, 0) for n in sizes]
  return [(t // 2, t - t // 2) for t in totals]


def max_pool(x: Array, window: int, stride: int, padding: str, cpu_form: bool = True) -> Array:
  """Max pooling over H, W (NHWC); `cpu_form`: strided slices with a hand-written gradient, else flax's reduce_window.

  Same values and gradients as nn.max_pool: the gradient of each window goes to its first maximum in row-major order,
  as select-and-scatter gives it. On XLA:CPU this form is faster than JAX's derivative of the slices' maxima and than
  reduce_window's select-and-scatter (README, Train-step speed).
  """
  if padding not in ('VALID', 'SAME'):
    raise ValueError(f"pool padding must be 'VALID' or 'SAME', got {padding!r}")
  if not cpu_form:
    return nn.max_pool(x, (window, window), (stride, stride), padding)
  return _max_pool(x, window, stride, padding)


def _pool_input(x: Array, window: int, stride: int, padding: str) -> tuple[Array, tuple[int, int]]:
  """x padded with -inf as the padding asks, and the pooled (height, width)."""
  pad_h, pad_w = _explicit_padding(padding, window, stride, x.shape[1:3])
  if pad_h != (0, 0) or pad_w != (0, 0):
    x = jnp.pad(x, ((0, 0), pad_h, pad_w, (0, 0)), constant_values=-jnp.inf)
  return x, ((x.shape[1] - window) // stride + 1, (x.shape[2] - window) // stride + 1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _max_pool(x: Array, window: int, stride: int, padding: str) -> Array:
  return _max_pool_fwd(x, window, stride, padding)[0]


def _max_pool_fwd(x, window, stride, padding):
  padded, (out_h, out_w) = _pool_input(x, window, stride, padding)
  rows = functools.reduce(jnp.maximum, [padded[:, i:i + stride * (out_h - 1) + 1:stride] for i in range(window)])
  y = functools.reduce(jnp.maximum, [rows[:, :, j:j + stride * (out_w - 1) + 1:stride] for j in range(window)])
  return y, (x, y)


def _max_pool_bwd(window, stride, padding, residuals, g):
  # Window offset (i, j) of output (r, c) read input (stride*r + i, stride*c + j): it hands g there when that input is
  # the window's first maximum. Inputs are grouped by phase (row % stride, column % stride); offset (i, j) lands in
  # phase (i % stride, j % stride) shifted by (i // stride, j // stride) outputs, so each phase's gradient is a sum of
  # output-sized arrays, and one interleaving writes the whole input gradient (no scatter).
  x, y = residuals
  padded, (out_h, out_w) = _pool_input(x, window, stride, padding)
  n, height, width, channels = padded.shape
  rows, cols = -(-height // stride), -(-width // stride)
  zero = jnp.zeros((), g.dtype)
  taken = jnp.zeros(y.shape, bool)
  phases = {}
  for i in range(window):
    for j in range(window):
      first = (padded[:, i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride] == y) & ~taken
      taken = taken | first
      di, dj = i // stride, j // stride
      part = jnp.pad(jnp.where(first, g, zero), ((0, 0), (di, rows - out_h - di), (dj, cols - out_w - dj), (0, 0)))
      key = (i % stride, j % stride)
      phases[key] = phases[key] + part if key in phases else part
  empty = jnp.zeros((n, rows, cols, channels), g.dtype)  # phases no window reads (window < stride).
  grid = jnp.stack([jnp.stack([phases.get((p, q), empty) for q in range(stride)], axis=3) for p in range(stride)],
                   axis=2)  # [n, rows, row phase, cols, column phase, channels]
  grad = grid.reshape(n, rows * stride, cols * stride, channels)
  pad_h, pad_w = _explicit_padding(padding, window, stride, x.shape[1:3])
  return (grad[:, pad_h[0]:height - pad_h[1], pad_w[0]:width - pad_w[1]],)


_max_pool.defvjp(_max_pool_fwd, _max_pool_bwd)


def dropout(x: Array, keep_mask: Array | None, rate: float) -> Array:
  """Section 4.2: dropout with rate 0.5. Inverted form (scale by 1/keep at train time), equal in expectation to the
  paper's "multiply outputs by 0.5 at test time". The mask is an input so every execution path drops the same units."""
  if keep_mask is None or rate == 0.0:
    return x
  return jnp.where(keep_mask, x / (1.0 - rate), jnp.zeros_like(x))


def init_std(init: str, layer: str, fan_in: int) -> float:
  """The standard deviation of a layer's initial weights under `init` (INITS), for a kernel with `fan_in` inputs."""
  if init in ('paper', 'caffe'):
    return PAPER_STD  # Section 5: zero-mean Gaussian, standard deviation 0.01.
  if init == 'paper_scaled':
    return PAPER_STD * math.sqrt(PAPER_FAN_IN[layer] / fan_in)
  if init == 'he':
    return math.sqrt(2.0 / fan_in)
  raise ValueError(f'init must be one of {INITS}, got {init!r}')


def kernel_init(init: str, layer: str) -> Callable:
  """Gaussian weights with `init_std`'s deviation ('he': truncated at 2 deviations, rescaled to keep it)."""
  if init == 'he':
    return nn.initializers.variance_scaling(2.0, 'fan_in', 'truncated_normal')
  init_std(init, layer, 1)  # checks the name.

  def normal(key, shape, dtype=jnp.float32):
    return init_std(init, layer, math.prod(shape[:-1])) * jax.random.normal(key, shape, dtype)
  return normal


# The positive bias each init scheme gives POSITIVE_BIAS_LAYERS. Caffe's reference model uses 0.1: with 1 its authors
# saw the loss stay flat.
POSITIVE_BIAS = {'paper': 1.0, 'paper_scaled': 1.0, 'caffe': 0.1, 'he': 0.0}


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
  kernels: str = 'auto'  # KERNELS: the CPU-tuned forms of pooling and LRN, or the library ones.
  dtype: Any = jnp.float32
  bn_axis_name: str | None = None  # set by the runner so batch statistics span the data-parallel batch.

  def setup(self):
    for name, total in zip(['conv_features', 'fc_features'], [self.conv_features, self.fc_features]):
      if any(w % self.num_towers for w in total):
        raise ValueError(f'{name} {tuple(total)} are not divisible by num_towers={self.num_towers}')
    if self.lrn not in LRN_FORMS:
      raise ValueError(f'lrn must be one of {LRN_FORMS}, got {self.lrn!r}')
    if self.activation not in ACTIVATIONS:
      raise ValueError(f'activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}')
    self.act = ACTIVATIONS[self.activation]
    self._cpu_kernels = cpu_kernels(self.kernels, self.dtype)
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
    if self.lrn == 'paper':
      return local_response_norm(x, size=5, k=2.0, alpha=1e-4, beta=0.75, cpu_form=self._cpu_kernels)
    if self.lrn == 'caffe':
      return local_response_norm(x, size=5, k=1.0, alpha=1e-4 / 5, beta=0.75, cpu_form=self._cpu_kernels)
    if self.lrn == 'batchnorm':
      return self.norms[i](x, use_running_average=not train)
    return x

  def _pool(self, x: Array) -> Array:
    return max_pool(x, self.pool_window, self.pool_stride, self.pool_padding, self._cpu_kernels)

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
                   capture_intermediates: bool = False):
  """Runs the stages of the towers whose variables are given (stacked on axis 0), joined by `exchange`.

  `exchange` takes this caller's towers' outputs (a list) and returns every tower's outputs concatenated on the last
  axis. Returns the caller's towers' FC7 activations (concatenated) and their updated batch statistics (None unless
  training with batchnorm); with capture_intermediates, also a list of each tower's layer outputs.
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
  x = dropout(exchange(run(Tower.fc6, [x] * n)), fc7_keep_mask, dropout_rate)
  fc7 = jnp.concatenate(run(Tower.fc7, [x] * n), axis=-1)
  new_stats = jax.tree.map(lambda *xs: jnp.stack(xs), *[v['batch_stats'] for v in local]) if update_stats else None
  if capture_intermediates:
    return fc7, new_stats, intermediates
  return fc7, new_stats


def _padding(spec: str):
  if spec in ('VALID', 'SAME'):
    return spec
  lo, hi = (int(p) for p in spec.split(','))
  return ((lo, hi), (lo, hi))


def from_config(config) -> tuple[Tower, Head]:
  """The Tower and Head that a config describes (see configs/imagenet.py for the fields)."""
  dtype = DTYPES[config.dtype]  # the names are checked by validation.validate.
  window, stride = POOLS[config.pool]
  tower = Tower(num_towers=config.num_towers, conv_features=tuple(config.conv_features),
                conv_kernels=tuple(config.conv_kernels), conv1_stride=config.conv1_stride,
                conv1_padding=_padding(config.conv1_padding), fc_features=tuple(config.fc_features), lrn=config.lrn,
                activation=config.activation, pool_window=window, pool_stride=stride,
                pool_padding=config.pool_padding, init_scheme=config.init, positive_bias=config.positive_bias,
                kernels=config.kernels, dtype=dtype)
  return tower, Head(config.num_classes, init_scheme=config.init, dtype=dtype)
