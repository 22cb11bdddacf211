"""The measurement behind experiments.activations: how far from a constant factor LRN is on a run's own images.

Section 3.3 divides each ReLU output a_i by (k + alpha * S_i)^beta, S_i = sum of a_j^2 over the n = 5 neighbouring
maps of one tower. With k = 2, alpha = 1e-4, beta = 0.75 the division only varies between units when alpha * S_i is
not small against k; when it is, LRN is the constant factor k^-beta = 0.595 and a contrast "with vs without LRN" tests
nothing. For each LRN site (after conv1 and conv2) this reports, over every unit (image, position, map) of the first
`examples` minival images (centre views, the run's preprocessing):

- r = alpha * S / k: its median and 90th percentile (r << 1: LRN is a constant factor);
- the factor (k + alpha S)^-beta relative to its value at S = 0, k^-beta: its 1st percentile, median, and the spread
  between the 1st and 99th percentiles (0 when LRN is a constant factor).

Constants are the run's LRN form ('caffe': k = 1, alpha / n per map); runs without LRN ('none', 'batchnorm') are
measured with the paper's constants, as what LRN would do to their activations. Rows: the run's initial parameters
(its config and seed) and its latest checkpoint. The command line: `python -m experiments.activations`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from alexnet import augment
from alexnet import model as model_lib
from alexnet import ops
from alexnet import parallel
from alexnet import records
from alexnet.data import sources
from alexnet.data import splits
from alexnet.data import statistics

# (k, alpha per summed map, beta) as model.Tower._norm applies them.
LRN_CONSTANTS = {'paper': (2.0, 1e-4, 0.75), 'caffe': (1.0, 1e-4 / 5, 0.75)}
SITES = ('conv1', 'conv2')  # LRN reads these layers' ReLU outputs.


def lrn_regime(activations: np.ndarray, form: str, size: int = 5) -> dict[str, float]:
  """The figures above for one site's activations [..., maps] (one tower's maps on the last axis)."""
  k, alpha, beta = LRN_CONSTANTS[form]
  window = np.asarray(ops.channel_window_sum(jnp.square(jnp.asarray(activations, jnp.float32)), size))
  r = (alpha * window / k).ravel()
  relative = (1.0 + r) ** -beta  # (k + alpha S)^-beta / k^-beta
  p1, p50, p99 = np.percentile(relative, [1, 50, 99])
  return {'r_median': float(np.median(r)), 'r_p90': float(np.percentile(r, 90)), 'factor_p1': float(p1),
          'factor_median': float(p50), 'factor_spread_p1_p99': float(p99 - p1),
          'activation_rms': float(np.sqrt(np.mean(np.square(activations))))}


def minival_views(config, examples: int) -> np.ndarray:
  """The first `examples` minival images as the net sees them at evaluation (centre view, mean, input_scale)."""
  train, minival = splits.hold_out_minival(sources.open_split(config, config.train_split),
                                                   config.minival_examples)
  split = minival if minival is not None else train
  images, _ = split.read(np.arange(min(examples, split.num_examples)))
  stats = statistics.cached_statistics(splits.training_subset(train, config), config)
  stats = {k: jnp.asarray(v) for k, v in stats.items()}
  eval_config = config.copy_and_resolve_references()
  with eval_config.unlocked():
    eval_config.eval_crops = 1
  return np.asarray(augment.eval_views(jnp.asarray(images), stats, eval_config)[:, 0])


def site_regimes(config, variables, images: np.ndarray) -> dict[str, dict[str, float]]:
  """{site: lrn_regime} for conv1 and conv2, each tower's maps normalised within that tower (as the net does)."""
  tower, head = model_lib.from_config(config)
  network = parallel.Network(tower, head, config.dropout_rate)
  _, intermediates = jax.jit(network.intermediates)(variables, jnp.asarray(images))
  form = config.lrn if config.lrn in LRN_CONSTANTS else 'paper'
  out = {}
  for site in SITES:
    per_tower = [np.asarray(t[f'{site}_output']) for t in intermediates]
    out[site] = lrn_regime(np.stack(per_tower), form)
  return out


def report(workdir: str, examples: int) -> dict:
  config = records.config(workdir)
  images = minival_views(config, examples)
  tower, head = model_lib.from_config(config)
  initial = parallel.Network(tower, head, config.dropout_rate).init(jax.random.key(config.seed), images.shape[1:])
  state = records.state(workdir)
  trained = {'params': state['params']} | ({'batch_stats': state['batch_stats']} if state.get('batch_stats') else {})
  return {'workdir': workdir, 'lrn': config.lrn, 'measured_with': config.lrn if config.lrn in LRN_CONSTANTS
          else 'paper', 'init': config.init, 'input_scale': config.input_scale, 'examples': len(images),
          'rows': {'init': site_regimes(config, initial, images),
                   f"step {int(np.asarray(state['step']))}": site_regimes(config, trained, images)}}


def format_report(result: dict) -> str:
  lines = [f"{result['workdir']}: lrn={result['lrn']} (measured with the {result['measured_with']} constants), "
           f"init={result['init']}, input_scale={result['input_scale']:g}, {result['examples']} minival images",
           f"{'params':<12}{'site':<7}{'RMS a':>9}{'median r':>11}{'p90 r':>10}{'factor p1':>11}{'median':>9}"
           f"{'spread p1-p99':>15}"]
  for row, sites in result['rows'].items():
    for site, f in sites.items():
      lines.append(f"{row:<12}{site:<7}{f['activation_rms']:>9.3g}{f['r_median']:>11.2e}{f['r_p90']:>10.2e}"
                   f"{f['factor_p1']:>11.3f}{f['factor_median']:>9.3f}{f['factor_spread_p1_p99']:>15.3f}")
  lines.append('r = alpha * S / k; factor = (k + alpha S)^-beta / k^-beta (1 = no normalisation beyond the constant).')
  return '\n'.join(lines)
