"""The operations AlexNet needs beyond flax's layers: Section 3.3's local response normalisation, Section 3.4's max
pooling and Section 4.2's dropout applied with a given mask.

LRN and max pooling each come in two forms with the same values and gradients (tests/test_ops.py): a 'cpu' form (LRN's
power as exp-log with a hand-written gradient; pooling as strided slices with a hand-written gradient) and a 'generic'
form (the formula differentiated by JAX; flax's nn.max_pool). `cpu_kernels` picks between them; which form is faster
where is measured in docs/performance.md.
"""
from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

# 'cpu': the hand-written forms above; 'generic': the library ones; 'auto': the 'cpu' forms on the CPU and in bfloat16
# on an accelerator, 'generic' in float32 on an accelerator (the choice docs/performance.md measures).
KERNELS = ('auto', 'cpu', 'generic')
PADDINGS = ('VALID', 'SAME')


def cpu_kernels(kernels: str, dtype: Any = jnp.float32) -> bool:
  """Whether `kernels` (KERNELS) selects the 'cpu' forms of LRN and max pooling for this backend and `dtype`."""
  if kernels == 'auto':
    return jax.default_backend() == 'cpu' or jnp.dtype(dtype) == jnp.bfloat16
  return {'cpu': True, 'generic': False}[kernels]


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
  scale = jnp.exp(-beta * jnp.log(denominator))  # = denominator ** -beta, without XLA:CPU's pow.
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
  as exp-log and a hand-written gradient (one more windowed sum); otherwise the formula as written, differentiated by
  JAX.
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
  as select-and-scatter gives it.
  """
  if padding not in PADDINGS:  # the strided form would read any other name as 'SAME'.
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
