"""Entry point: python -m alexnet.main --config=configs/<name>.py --workdir=DIR [--config.<field>=value ...].

Several processes (hosts) form one run through jax.distributed: pass --coordinator_address=HOST:PORT,
--num_processes=N and --process_id=I to each, or nothing under SLURM or Open MPI, where JAX reads them from the
environment (docs/distributed.md).

Exit status: 0 done; 1 the run failed (a non-finite step, another process died); 2 bad input (config, data,
workdir), reported in one line before anything is written or compiled; 75 (EX_TEMPFAIL) stopped by SIGTERM/SIGINT
after saving a checkpoint: the same command resumes.
"""
import logging as std_logging
import os
import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from alexnet import parallel
from configs import imagenet

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Where checkpoints, TensorBoard events, config.json and summary.json go.')
config_flags.DEFINE_config_file('config', None, 'A configs/*.py file with get_config().', lock_config=True)
flags.DEFINE_bool('allow_config_change', False, "Resume a workdir whose checkpoints were made with another model or "
                  "training rule (its config.json differs outside validation.RESUMABLE_CHANGES).")
flags.DEFINE_string('coordinator_address', None, 'HOST:PORT of process 0, for a run over several processes '
                    '(jax.distributed). Unset: one process, or what JAX reads from SLURM / Open MPI.')
flags.DEFINE_integer('num_processes', None, 'How many processes form the run (with --coordinator_address).')
flags.DEFINE_integer('process_id', None, "This process's index, 0..num_processes-1 (with --coordinator_address).")
flags.DEFINE_integer('heartbeat_timeout_seconds', 100, 'A process that stops answering for this long fails the run '
                     'on the others (jax.distributed).')
flags.mark_flags_as_required(['config', 'workdir'])

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PREEMPTED = 1, 2, 75


def _launched_processes() -> int:
  """How many tasks SLURM (in a job step: `srun`) or Open MPI launched, 1 outside them; with several,
  jax.distributed.initialize() reads the rest from the environment. SLURM_NTASKS alone does not count: `sbatch -n2`
  sets it for the batch script too, where no peers are coming (a run started there, or by a sweep started there, is
  one process)."""
  return int(os.environ.get('OMPI_COMM_WORLD_SIZE') or os.environ.get('SLURM_STEP_NUM_TASKS') or 1)


def _initialize(config) -> None:
  """Virtual CPU devices, then jax.distributed when several processes form the run; before JAX starts a backend."""
  launched = _launched_processes()
  jax.config.update('jax_num_cpu_devices', parallel.cpu_devices_per_process(config, FLAGS.num_processes or launched))
  if FLAGS.coordinator_address or launched > 1:
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU collectives across processes.
    jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id,
                               heartbeat_timeout_seconds=FLAGS.heartbeat_timeout_seconds)
    if jax.process_index() > 0:
      logging.set_verbosity(logging.WARNING)  # the first process logs progress; the others only problems.


def _exit(status: int, message: str) -> None:
  logging.error('%s', message)
  print(f'error: {message}', file=sys.stderr, flush=True)
  if jax.process_count() > 1:
    # Skip jax.distributed's shutdown barrier: it would wait for processes that may be gone or stuck.
    logging.flush()
    os._exit(status)  # pylint: disable=protected-access
  sys.exit(status)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  config = FLAGS.config
  # Orbax logs every checkpoint step at INFO; keep its warnings, drop the rest.
  logging.get_absl_logger().addFilter(lambda r: r.levelno >= std_logging.WARNING or 'orbax' not in r.pathname)
  _initialize(config)
  # pylint: disable=g-import-not-at-top
  from alexnet import train
  from alexnet import validation
  from alexnet import workdir_lock
  from alexnet.data import errors
  # pylint: enable=g-import-not-at-top
  logging.info('JAX devices: %s (process %d of %d)', jax.devices(), jax.process_index(), jax.process_count())
  try:
    train.train_and_evaluate(config, FLAGS.workdir, allow_config_change=FLAGS.allow_config_change,
                             reference=imagenet.get_config())
  except (validation.ConfigError, errors.DataError, workdir_lock.WorkdirBusy) as e:
    _exit(EXIT_BAD_INPUT, str(e))
  except train.Preempted as e:
    _exit(EXIT_PREEMPTED, f'stopped: {e}')
  except train.NonFiniteError as e:
    _exit(EXIT_FAILED, str(e))
  except Exception as e:  # pylint: disable=broad-except
    if jax.process_count() == 1:
      raise
    logging.exception('process %d failed', jax.process_index())
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    _exit(EXIT_FAILED, f'process {jax.process_index()} of {jax.process_count()} failed (when a step across processes '
                       f'fails, another process probably died: see its log): {first}')


def run() -> None:
  """app.run(main), after checking the names of --config.<field> overrides."""
  from alexnet import validation  # pylint: disable=g-import-not-at-top
  try:
    validation.check_overrides(sys.argv[1:], imagenet.get_config())
  except validation.ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)
  app.run(main)


if __name__ == '__main__':
  run()
