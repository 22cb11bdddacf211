"""A trained net (a run's checkpoint, or weights from alexnet.import_weights) evaluated on any split of its dataset.

  python -m alexnet.evaluate --workdir=RUN [--split=test|minival|train|...] [--eval_crops=1|10] [--step=N]
      [--config.<field>=value ...]

The run's config.json (overridden by --config.<field>=...), its latest checkpoint (or --step), and its preprocessing:
the training split's mean (as the run computed it, cached in the data dir) or, for imported weights, the mean in the
workdir's stats.npz. Reports top-1 / top-5 error and loss (softmax averaged over the views, as training's test
evaluation) and writes them to RUN/eval_<split>_<crops>.json. `minival` is the run's held-out end of the training
split. Evaluating the test split here is the user's explicit act; the run itself reads it once.

Runs on one device (parallelism='single'): the mesh and one device give the same logits (tests/test_model.py).
Bad input (no checkpoint, an unknown split, a bad override) is one line, exit 2, nothing written.
"""
from __future__ import annotations

import json
import os
import re
import sys

from absl import app
from absl import flags
import jax
import ml_collections
from ml_collections import config_flags
import numpy as np

from alexnet import checkpoint
from alexnet import steps
from alexnet import train
from alexnet import validation
from alexnet.data import errors
from alexnet.data import sources
from alexnet.data import splits
from alexnet.data import statistics
from configs import imagenet

EXIT_BAD_INPUT = 2


class RunError(ValueError):
  """A workdir that holds no usable trained net; the message (one line) says which and why."""


def _json_config(workdir: str) -> dict:
  path = os.path.join(workdir, 'config.json')
  if not os.path.isfile(path):
    raise RunError(f'{workdir} holds no config.json (expected a workdir of alexnet.main or alexnet.import_weights)')
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise RunError(f'cannot read {path} ({e})') from None


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The run's config: configs/imagenet.py's fields, set from its config.json (fields the file lacks keep their
  defaults; lists become the reference's tuples)."""
  config = imagenet.get_config()
  for key, value in _json_config(str(workdir)).items():
    if key in config:
      config[key] = tuple(value) if isinstance(config[key], tuple) and isinstance(value, list) else value
  return config


def load_params(workdir: str, step: int | None = None) -> tuple[dict, dict | None, int]:
  """(params, batch_stats or None, step) from the workdir's latest checkpoint, or `step`'s."""
  directory = os.path.join(str(workdir), 'checkpoints')
  steps = sorted(int(s) for s in os.listdir(directory) if s.isdigit()) if os.path.isdir(directory) else []
  if not steps:
    raise RunError(f'{workdir} holds no checkpoint (expected {directory}/<step>)')
  if step is not None and step not in steps:
    raise RunError(f'{workdir} holds no checkpoint {step}; it holds {", ".join(map(str, steps))}')
  state, _ = checkpoint.restore_state(str(workdir), step=step)
  return state['params'], state.get('batch_stats'), int(np.asarray(state['step']))


def training_split(config: ml_collections.ConfigDict) -> splits.Split:
  """The run's training split, minival not yet held out, checked against its config (an overridden
  minival_examples or train_examples) as training checked it."""
  split = sources.open_split(config, config.train_split)
  validation.validate_data(config, split.num_examples, split.image_shape)
  return split


def load_stats(workdir: str, config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
  """The mean the net's inputs had subtracted: the workdir's stats.npz (imported weights), or the statistics of the
  run's training split without minival, as training computed them (cached in the data dir)."""
  path = os.path.join(str(workdir), 'stats.npz')
  if os.path.exists(path):
    with np.load(path) as f:
      return dict(f)
  train_split, _ = splits.hold_out_minival(training_split(config), config.minival_examples)
  return statistics.cached_statistics(splits.training_subset(train_split, config), config)


def open_eval_split(config: ml_collections.ConfigDict, split: str) -> splits.Split:
  """`split` of the config's dataset; 'minival' is the run's held-out end of its training split."""
  if split != 'minival':
    return sources.open_split(config, split)
  if config.minival_examples == 0:
    raise RunError('the run held out no minival (minival_examples=0); pick another --split')
  return splits.hold_out_minival(training_split(config), config.minival_examples)[1]


def evaluate_params(config, params, batch_stats, stats, split: splits.Split) -> dict[str, float]:
  """Loss and top-1/top-5 errors of the net `config` describes, with `params`, over `split`, on one device."""
  network = steps.build_network(config)
  state = steps.TrainState(step=np.zeros((), np.int32), params=params, batch_stats=batch_stats, opt_state=None,
                           plateau=None)
  p_eval_step = jax.jit(lambda s, b, st: steps.eval_step(s, b, st, network=network, config=config),
                        compiler_options=steps.compiler_options(config))
  stats = {k: jax.numpy.asarray(v) for k, v in stats.items()}
  return train.evaluate(state, split, stats, p_eval_step, config, None)


def evaluate_run(workdir: str, config: ml_collections.ConfigDict, split: str, step: int | None = None
                 ) -> dict:
  """Evaluates the workdir's net on `split`; writes and returns the report."""
  config = config.copy_and_resolve_references()
  config.parallelism = 'single'
  validation.validate(config, 1)
  params, batch_stats, step = load_params(workdir, step)
  data = open_eval_split(config, split)
  metrics = evaluate_params(config, params, batch_stats, load_stats(workdir, config), data)
  report = {'workdir': str(workdir), 'step': step, 'split': split, 'examples': data.num_examples,
            'eval_crops': config.eval_crops, 'dataset': config.dataset, **metrics}
  name = re.sub(r'[^A-Za-z0-9_.-]+', '_', split)
  with open(os.path.join(str(workdir), f'eval_{name}_{config.eval_crops}.json'), 'w') as f:
    json.dump(report, f, indent=2)
  return report


# ----------------------------------------------------------------------------------------------------- the CLI

def _argv_value(name: str) -> str | None:
  for i, arg in enumerate(sys.argv[1:], start=1):
    if arg.startswith(f'--{name}='):
      return arg.split('=', 1)[1]
    if arg == f'--{name}' and i + 1 < len(sys.argv):
      return sys.argv[i + 1]
  return None


def define_config_flag() -> None:
  """--config.<field>=value overrides on the run's own config (read from --workdir before flags are parsed); an
  unknown field is one line and exit 2."""
  try:
    validation.check_overrides(sys.argv[1:], imagenet.get_config())
  except validation.ConfigError as e:
    bad_input(str(e))
  workdir = _argv_value('workdir')
  try:
    config = load_config(workdir) if workdir else imagenet.get_config()
  except RunError:
    config = imagenet.get_config()  # main() reports the workdir.
  config_flags.DEFINE_config_dict('config', config, 'The run\'s config (its config.json); override fields with '
                                  '--config.<field>=value.', lock_config=True)


def bad_input(message: str) -> None:
  print(f'error: {message}', file=sys.stderr, flush=True)
  sys.exit(EXIT_BAD_INPUT)


BAD_INPUT = (RunError, validation.ConfigError, errors.DataError)

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  config = FLAGS.config
  if FLAGS.step < -1:
    bad_input(f'--step must be a checkpoint step (>= 0), or -1 for the latest; got {FLAGS.step}')
  try:
    load_config(FLAGS.workdir)  # a missing or unreadable config.json is reported here.
    if FLAGS.eval_crops:
      config.eval_crops = FLAGS.eval_crops
    report = evaluate_run(FLAGS.workdir, config, FLAGS.split or config.test_split,
                          None if FLAGS.step < 0 else FLAGS.step)
  except BAD_INPUT as e:
    bad_input(str(e))
  print(f"{FLAGS.workdir} (step {report['step']}) on {config.dataset}:{report['split']} ({report['examples']:,} "
        f"examples, {report['eval_crops']} crop{'s' * (report['eval_crops'] > 1)}): top-1 error "
        f"{100 * report['top1_error']:.2f}%, top-5 error {100 * report['top5_error']:.2f}%, loss {report['loss']:.4f}")


if __name__ == '__main__':
  flags.DEFINE_string('workdir', None, 'A workdir of alexnet.main or alexnet.import_weights.')
  flags.DEFINE_string('split', '', "The split to evaluate: the config's test_split by default, 'minival', 'train', "
                      'or any split name of the dataset.')
  flags.DEFINE_integer('eval_crops', 0, '1 (centre crop) or 10 (Section 4.1); 0: the config\'s.')
  flags.DEFINE_integer('step', -1, 'The checkpoint to evaluate; -1: the latest.')
  flags.mark_flags_as_required(['workdir'])
  define_config_flag()
  app.run(main)
