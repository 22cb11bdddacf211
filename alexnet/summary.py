"""Per-layer table of the net a config describes, in the spirit of Keras' model.summary().

  python -m alexnet.summary --config=configs/imagenet.py

Columns: output shape of one tower's layer (batch of 1), parameters per tower and over all towers, multiply-accumulates
per image over all towers, and bytes each exchange moves between towers per image (every tower receives every other
tower's maps). Shapes come from jax.eval_shape: nothing is computed.
"""
from __future__ import annotations

import math
import sys

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import config_flags

from alexnet import model as model_lib
from alexnet import parallel
from alexnet import validation
from alexnet.data import imaging
from configs import imagenet

# Where the paper's net exchanges maps between towers (Section 3.5): after these layers.
EXCHANGE_AFTER = ('pool2', 'pool5', 'fc6', 'fc7')
LAYER_ORDER = ('conv1', 'norm1', 'pool1', 'conv2', 'norm2', 'pool2', 'conv3', 'conv4', 'conv5', 'pool5', 'fc6', 'fc7')


def layer_rows(config) -> list[dict]:
  tower, head = model_lib.from_config(config)
  network = parallel.Network(tower, head, config.dropout_rate)
  image = jax.ShapeDtypeStruct((1, *imaging.model_image_shape(config)), jnp.float32)
  variables = jax.eval_shape(lambda: network.init(jax.random.key(0), image.shape[1:]))
  _, intermediates = jax.eval_shape(network.intermediates, variables, image)
  outputs = intermediates[0]
  tower_params = variables['params']['towers']
  itemsize = jnp.dtype(tower.dtype).itemsize
  t = tower.num_towers
  rows = []
  for name in (n for n in LAYER_ORDER if f'{n}_output' in outputs):
    out = outputs[f'{name}_output']
    count = sum(math.prod(p.shape[1:]) for p in jax.tree.leaves(tower_params.get(name, {})))
    kernel = tower_params.get(name, {}).get('kernel')
    macs = 0 if kernel is None else math.prod(kernel.shape[1:]) * math.prod(out.shape[1:-1])
    exchanged = t * (t - 1) * math.prod(out.shape[1:]) * itemsize if name in EXCHANGE_AFTER and t > 1 else 0
    rows.append({'layer': name, 'shape': tuple(out.shape[1:]), 'params_per_tower': count, 'params': count * t,
                 'macs': macs * t, 'exchange_bytes': exchanged})
  fc8 = variables['params']['head']['fc8']
  fc8_params = sum(math.prod(p.shape) for p in jax.tree.leaves(fc8))
  rows.append({'layer': 'fc8', 'shape': (config.num_classes,), 'params_per_tower': None, 'params': fc8_params,
               'macs': math.prod(fc8['kernel'].shape), 'exchange_bytes': 0})
  return rows


def format_table(config, rows: list[dict]) -> str:
  head = (f"{'layer':<8}{'output (per tower)':>22}{'params/tower':>15}{'params':>14}{'MACs/image':>16}"
          f"{'exchange B/img':>17}")
  lines = [f'AlexNet: {config.config_name}, num_towers={config.num_towers}, lrn={config.lrn}, '
           f'input {config.image_size}x{config.image_size}', head, '-' * len(head)]
  for r in rows:
    per_tower = 'not split' if r['params_per_tower'] is None else f"{r['params_per_tower']:,}"
    lines.append(f"{r['layer']:<8}{str(r['shape']):>22}{per_tower:>15}{r['params']:>14,}"
                 f"{r['macs']:>16,}{r['exchange_bytes']:>17,}")
  lines.append('-' * len(head))
  lines.append(f"MACs per image (forward): {sum(r['macs'] for r in rows):,}")
  lines.append(f"Bytes exchanged between towers per image (forward): {sum(r['exchange_bytes'] for r in rows):,}")
  lines.append(f"Total params: {sum(r['params'] for r in rows):,}")
  return '\n'.join(lines)


def main(argv):
  del argv
  config = flags.FLAGS.config
  try:
    validation.validate_net(config, imagenet.get_config())  # the checks training makes, in one line (exit 2)
  except validation.ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  print(format_table(config, layer_rows(config)))


if __name__ == '__main__':
  config_flags.DEFINE_config_file('config', None, 'A configs/*.py file.', lock_config=True)  # a library on import
  flags.mark_flags_as_required(['config'])
  app.run(main)
