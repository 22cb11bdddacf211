"""Entry point: python -m alexnet.main --config=configs/<name>.py --workdir=DIR [--config.<field>=value ...]."""
import logging as std_logging

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Where checkpoints, TensorBoard events, config.json and summary.json go.')
config_flags.DEFINE_config_file('config', None, 'A configs/*.py file with get_config().', lock_config=True)
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  config = FLAGS.config
  # Orbax logs every checkpoint step at INFO; keep its warnings, drop the rest.
  logging.get_absl_logger().addFilter(lambda r: r.levelno >= std_logging.WARNING or 'orbax' not in r.pathname)
  # Virtual CPU devices for the mesh; must happen before JAX starts its backends. Accelerators are unaffected.
  jax.config.update('jax_num_cpu_devices', max(config.mesh_data * config.mesh_tower, 1))
  from alexnet import train  # pylint: disable=g-import-not-at-top
  logging.info('JAX devices: %s', jax.devices())
  try:
    train.train_and_evaluate(config, FLAGS.workdir)
  except train.NonFiniteError as e:
    logging.error('%s', e)
    raise SystemExit(f'error: {e}') from None


if __name__ == '__main__':
  app.run(main)
