"""Timing on this machine: step functions taking turns, the GEMM peak, and the header every timing table starts with.

A timed row is a `(step_fn, sync)` pair: `step_fn()` launches one step and returns something `sync` waits on. The
header (`machine`) names what the figures were measured on: the date, the CPU and its cores, the accelerator, and a
square GEMM timed in the same process, the yardstick against which a table's GFLOP/s read as a share of the peak.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import time

import jax
import jax.numpy as jnp


def time_rows(runners: dict, steps: int, reps: int) -> dict[str, list[float]]:
  """Seconds per step of each runner (name -> (step_fn, sync)), one value per repetition, after two warm-up calls
  each (compile, first-touch allocations). The rows take turns: repetition r of every row runs before repetition
  r + 1 of any, so a machine whose speed drifts during the run (shared cores, clock changes) slows every row alike
  and the ratios between rows stay fair."""
  for step_fn, sync in runners.values():
    for _ in range(2):
      sync(step_fn())
  times = {name: [] for name in runners}
  for _ in range(reps):
    for name, (step_fn, sync) in runners.items():
      start = time.perf_counter()
      for _ in range(steps):
        out = step_fn()
      sync(out)
      times[name].append((time.perf_counter() - start) / steps)
  return times


def time_steps(step_fn, steps: int, reps: int, sync) -> list[float]:
  """Seconds per step of one step function, one value per repetition (`time_rows` for one row)."""
  return time_rows({'': (step_fn, sync)}, steps, reps)['']


def gemm_peak(dtype: str = 'float32', n: int = 4096) -> float:
  """GFLOP/s of an n x n x n matmul in `dtype` (float32 accumulation) on the default device, best of 3 x 3 steps."""
  a = jax.random.normal(jax.random.key(0), (n, n)).astype(dtype)
  b = jax.random.normal(jax.random.key(1), (n, n)).astype(dtype)
  matmul = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  times = time_steps(lambda: matmul(a, b), steps=3, reps=3, sync=jax.block_until_ready)
  return 2 * n ** 3 / min(times) / 1e9


def cpu_model() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      return next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
  except (OSError, StopIteration):
    return platform.processor() or platform.machine()


@dataclasses.dataclass(frozen=True)
class Machine:
  """What a timing table was measured on."""
  date: str
  cpu: str             # '<model name>, <N> cores'
  device: str          # the default device's kind ('cpu', 'NVIDIA H100 80GB HBM3', ...)
  gemm_dtype: str
  gemm_size: int
  peak_gflops: float

  def header(self) -> str:
    return (f'{self.date}  {self.cpu}  {self.device}  {self.gemm_dtype} GEMM peak {self.peak_gflops:.0f} GFLOP/s '
            f'({self.gemm_size}x{self.gemm_size})')

  def as_json(self) -> dict:
    return {'date': self.date, 'machine': self.cpu, 'device': self.device, 'peak_gflops': self.peak_gflops,
            'gemm_size': self.gemm_size}


def machine(gemm_dtype: str = 'float32', gemm_size: int = 4096) -> Machine:
  """This machine, with its GEMM peak timed now (call it after the JAX options that shape the backend are set)."""
  return Machine(date=time.strftime('%Y-%m-%d'), cpu=f'{cpu_model()}, {os.cpu_count()} cores',
                 device=str(jax.devices()[0].device_kind), gemm_dtype=gemm_dtype, gemm_size=gemm_size,
                 peak_gflops=gemm_peak(gemm_dtype, gemm_size))
