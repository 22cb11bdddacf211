"""Every check of a config, in one place, run before anything is written or compiled.

`validate(config, num_devices, ...)` checks the fields against a reference config (names and types), the choices and
ranges of each field, and the mesh against the devices; `validate_data` checks what needs the opened dataset;
`check_workdir` refuses to resume a workdir that holds another model; `check_overrides` checks the names of
`--config.<field>` flags before they are parsed. Each raises `ConfigError`, whose message is one line;
`python -m alexnet.main` prints it and exits with status 2.

The reference is the caller's: the config every config derives from (configs/imagenet.py for the command-line tools),
which also gives the value of a field that a config.json written before the field existed lacks. Where none is given,
the config is its own reference: its fields are not compared, and a field a saved config.json lacks is not compared.
"""
from __future__ import annotations

import difflib
import json
import os
from typing import Any

import ml_collections

from alexnet import model
from alexnet import ops
from alexnet import optim
from alexnet import parallel


class ConfigError(ValueError):
  """A config, or a config against the devices, the data or the workdir, that cannot run. One-line message."""


PARALLELISMS = ('mesh', 'single')
MEAN_SUBTRACTIONS = ('pixel', 'channel', 'none')
NONFINITE_ACTIONS = ('stop', 'skip')
CPU_CONV_LIBRARIES = ('xla', 'ynnpack')
UNREADABLE_IMAGES = ('error', 'skip')

CHOICES = {
    'lrn': model.LRN_FORMS, 'activation': tuple(model.ACTIVATIONS), 'init': model.INITS, 'pool': tuple(model.POOLS),
    'dtype': tuple(model.DTYPES), 'kernels': ops.KERNELS, 'pool_padding': ops.PADDINGS,
    'schedule': optim.SCHEDULES, 'eval_crops': (1, 10), 'mean_subtraction': MEAN_SUBTRACTIONS,
    'parallelism': PARALLELISMS, 'nonfinite': NONFINITE_ACTIONS, 'cpu_conv_library': CPU_CONV_LIBRARIES,
    'unreadable_images': UNREADABLE_IMAGES,
}
POSITIVE = ('batch_size', 'learning_rate', 'image_size', 'num_classes', 'log_every_steps', 'checkpoint_every_steps',
            'max_checkpoints', 'eval_every_epochs', 'plateau_threshold', 'stats_max_examples', 'conv1_stride',
            'step_epochs', 'plateau_window_epochs', 'plateau_patience_epochs')
NON_NEGATIVE = ('minival_examples', 'resize_size', 'pad_crop', 'pca_lighting', 'momentum', 'weight_decay',
                'warmup_epochs', 'plateau_cooldown_epochs', 'plateau_max_drops', 'profile_steps')
LENGTHS = {'conv_features': 5, 'conv_kernels': 5, 'fc_features': 2}

# Fields that say where and how a run executes, not what it computes.
EXECUTION_FIELDS = frozenset({'parallelism', 'mesh_data', 'mesh_tower', 'cpu_conv_library', 'kernels', 'data_dir',
                              'profile_steps', 'input_workers'})
# Fields a resumed run may change: those, how long it runs and how it logs. Any other difference between a workdir's
# config.json and the new config means another model or another training rule: check_workdir refuses it.
RESUMABLE_CHANGES = EXECUTION_FIELDS | {
    'num_epochs', 'num_train_steps', 'log_every_steps', 'eval_every_steps', 'eval_every_epochs', 'num_eval_batches',
    'checkpoint_every_steps', 'max_checkpoints', 'nonfinite', 'debug_nonfinite_step',
    'init_from'}  # a resumed run's parameters come from its own checkpoint.


def _type_name(value: Any) -> str:
  return type(value).__name__


def _same_type(value: Any, like: Any) -> bool:
  if isinstance(like, bool):
    return isinstance(value, bool)
  if isinstance(like, float):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
  if isinstance(like, int):
    return isinstance(value, int) and not isinstance(value, bool)
  if isinstance(like, (tuple, list)):  # of integers (widths), or of numbers where the default holds none (epochs).
    number = float if not like or any(isinstance(v, float) for v in like) else int
    return isinstance(value, (tuple, list)) and all(_same_type(v, number(0)) for v in value)
  return isinstance(value, type(like))


def check_names(names, reference: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for the first name that is not a field of `reference`, suggesting the closest one."""
  for key in names:
    if key not in reference:
      close = difflib.get_close_matches(key, list(reference.keys()), n=1)
      hint = f" (did you mean '{close[0]}'?)" if close else ' (the fields are those of configs/imagenet.py)'
      raise ConfigError(f"unknown config field '{key}'{hint}")


def check_overrides(argv, reference: ml_collections.ConfigDict) -> None:
  """check_names for the `--config.<field>=value` flags in `argv`, before flags are parsed (ml_collections would raise
  a bare AttributeError while parsing them)."""
  check_names([a[len('--config.'):].split('=')[0].split('.')[0] for a in argv if a.startswith('--config.')],
              reference)


def _check_fields(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict) -> None:
  check_names(config.keys(), reference)
  for key in reference.keys():
    if key not in config:
      raise ConfigError(f"config has no field '{key}' (derive configs from configs/imagenet.py)")
    if not _same_type(config[key], reference[key]):
      raise ConfigError(f'config.{key} must be of type {_type_name(reference[key])}, got {config[key]!r} '
                        f'({_type_name(config[key])})')


def _check_values(config: ml_collections.ConfigDict) -> None:
  for key, choices in CHOICES.items():
    if config[key] not in choices:
      raise ConfigError(f'config.{key} must be one of {", ".join(map(repr, choices))}; got {config[key]!r}')
  for key in POSITIVE:
    if not config[key] > 0:
      raise ConfigError(f'config.{key} must be > 0, got {config[key]!r}')
  for key in NON_NEGATIVE:
    if config[key] < 0:
      raise ConfigError(f'config.{key} must be >= 0, got {config[key]!r}')
  for key, n in LENGTHS.items():
    if len(config[key]) != n or min(config[key]) <= 0:
      raise ConfigError(f'config.{key} must be {n} positive widths, got {tuple(config[key])}')
  if not 0 <= config.dropout_rate < 1:
    raise ConfigError(f'config.dropout_rate must be in [0, 1), got {config.dropout_rate}')
  if config.num_towers < 1:
    raise ConfigError(f'config.num_towers must be >= 1, got {config.num_towers}')
  for key in ('conv_features', 'fc_features'):
    if any(w % config.num_towers for w in config[key]):
      raise ConfigError(f'config.{key} {tuple(config[key])} are not divisible by num_towers={config.num_towers}')
  _check_conv1_padding(config.conv1_padding)
  if config.num_train_steps <= 0 and config.num_epochs <= 0:
    raise ConfigError('set config.num_epochs > 0 or config.num_train_steps > 0')
  if config.eval_every_steps == 0 or config.eval_every_steps < -1:
    raise ConfigError(f'config.eval_every_steps must be > 0, or -1 for every eval_every_epochs; got '
                      f'{config.eval_every_steps}')
  if config.train_examples == 0 or config.train_examples < -1:
    raise ConfigError(f'config.train_examples must be > 0, or -1 for all; got {config.train_examples}')
  if config.input_workers < -1:
    raise ConfigError(f'config.input_workers must be >= 0, or -1 for one per CPU core; got {config.input_workers}')
  if config.schedule == 'plateau' and config.minival_examples == 0:
    raise ConfigError("schedule='plateau' reads the minival error: set minival_examples > 0 (selecting on the test "
                      'split is not offered)')
  _check_plateau_epochs(config)
  _check_drop_epochs(config)


def _whole_multiple(value: float, of: float) -> bool:
  return value >= of and abs(value / of - round(value / of)) < 1e-6


def _check_drop_epochs(config: ml_collections.ConfigDict) -> None:
  """'drops': at least one drop, each after the warm-up and before the run's end, in increasing order."""
  if config.schedule != 'drops':
    return
  drops = tuple(config.drop_epochs)
  if not drops or any(b <= a for a, b in zip(drops, drops[1:])) or drops[0] <= config.warmup_epochs:
    raise ConfigError(f'config.drop_epochs must be increasing epochs after the warm-up ({config.warmup_epochs}) for '
                      f"schedule='drops', got {drops}")
  if config.num_train_steps <= 0 and drops[-1] >= config.num_epochs:
    raise ConfigError(f'config.drop_epochs ends at {drops[-1]}, not before num_epochs ({config.num_epochs}): the run '
                      'would never train at its last rate')


def _check_plateau_epochs(config: ml_collections.ConfigDict) -> None:
  """The plateau rule's durations are in epochs: a window holds whole evaluations, patience and cooldown whole
  windows, so the same error curve gives the same drops at any evaluation rate."""
  if config.schedule != 'plateau':
    return
  window = config.plateau_window_epochs
  if config.eval_every_steps == -1 and not _whole_multiple(window, config.eval_every_epochs):
    raise ConfigError(f'config.plateau_window_epochs ({window}) must be a whole multiple of eval_every_epochs '
                      f'({config.eval_every_epochs}): a window holds whole evaluations')
  if not _whole_multiple(config.plateau_patience_epochs, window):
    raise ConfigError(f'config.plateau_patience_epochs ({config.plateau_patience_epochs}) must be a whole multiple of '
                      f'plateau_window_epochs ({window})')
  if config.plateau_cooldown_epochs and not _whole_multiple(config.plateau_cooldown_epochs, window):
    raise ConfigError(f'config.plateau_cooldown_epochs ({config.plateau_cooldown_epochs}) must be 0 or a whole '
                      f'multiple of plateau_window_epochs ({window})')


def _check_conv1_padding(spec: str) -> None:
  """'VALID', 'SAME' or 'lo,hi' with lo, hi >= 0, as model.conv_padding reads it."""
  try:
    padding = model.conv_padding(spec)
  except ValueError:
    padding = None
  if padding is None or (padding not in ops.PADDINGS and min(padding[0]) < 0):
    raise ConfigError(f"config.conv1_padding must be 'VALID', 'SAME' or 'lo,hi' (pixels), got {spec!r}")


def _check_mesh(config: ml_collections.ConfigDict, num_devices: int, process_count: int) -> None:
  for key in ('mesh_data', 'mesh_tower'):
    if config[key] == 0 or config[key] < -1:
      raise ConfigError(f'config.{key} must be > 0, or -1 to fill from the devices; got {config[key]}')
  data, tower = parallel.resolved_mesh(config, num_devices, process_count)
  if config.parallelism == 'mesh':
    if data * tower > num_devices:
      raise ConfigError(f'mesh (data={data}, tower={tower}) needs {data * tower} devices but {num_devices} are '
                        'available; use -1 for an axis to fill it from the devices')
    if config.num_towers % tower:
      raise ConfigError(f'num_towers={config.num_towers} is not divisible by the tower axis ({tower})')
    if data % process_count:
      raise ConfigError(f'the data axis ({data}) must be a multiple of the {process_count} processes, so that each '
                        "process owns whole rows of the mesh (a tower exchange stays inside a host)")
  elif process_count > 1:
    raise ConfigError("parallelism='single' runs on one device: use 'mesh' with several processes")
  if config.batch_size % data:  # data is a multiple of the processes, so each process gets whole device batches.
    raise ConfigError(f'batch_size {config.batch_size} is not divisible by the data axis ({data}, over '
                      f'{process_count} process(es))')


def _check_init_from(config: ml_collections.ConfigDict) -> None:
  """config.init_from, when set, is a workdir with a checkpoint (of alexnet.main or alexnet.import_weights)."""
  if not config.init_from:
    return
  checkpoints = os.path.join(config.init_from, 'checkpoints')
  if not (os.path.isdir(checkpoints) and any(name.isdigit() for name in os.listdir(checkpoints))):
    raise ConfigError(f'config.init_from={config.init_from!r} holds no checkpoint (expected {checkpoints}/<step>, '
                      'written by alexnet.main or alexnet.import_weights)')


def validate_net(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict) -> None:
  """The checks of `validate` that need no devices: `reference`'s fields and types, and the values."""
  _check_fields(config, reference)
  _check_values(config)


def validate(config: ml_collections.ConfigDict, num_devices: int, process_count: int = 1,
             reference: ml_collections.ConfigDict | None = None) -> None:
  """Checks everything about `config` that needs no data, against `reference`'s fields and `num_devices` devices over
  `process_count` processes (the mesh they give is parallel.resolved_mesh's)."""
  _check_fields(config, config if reference is None else reference)
  _check_values(config)
  _check_init_from(config)
  _check_mesh(config, num_devices, process_count)


def validate_data(config: ml_collections.ConfigDict, num_examples: int, image_shape) -> None:
  """Checks of the config against the opened training split: its `num_examples` examples (minival not yet held
  out) and the stored `image_shape`."""
  where = f'{config.dataset}:{config.train_split}'
  if config.minival_examples >= num_examples:
    raise ConfigError(f'minival_examples={config.minival_examples} leaves nothing to train on: {where} holds '
                      f'{num_examples} examples; set --config.minival_examples below that')
  held_out = f'{num_examples} examples of {where} less minival_examples={config.minival_examples}'
  train_examples = num_examples - config.minival_examples
  if config.train_examples > train_examples:
    raise ConfigError(f'train_examples={config.train_examples} exceeds the {train_examples} training examples '
                      f'({held_out})')
  train_examples = config.train_examples if config.train_examples > 0 else train_examples
  if train_examples < config.batch_size:
    raise ConfigError(f'batch_size {config.batch_size} exceeds the {train_examples} training examples ({held_out}'
                      + (f', train_examples={config.train_examples}' if config.train_examples > 0 else '') + ')')
  h, w = image_shape[:2]
  if min(h, w) + 2 * config.pad_crop < config.image_size:
    raise ConfigError(f'image_size {config.image_size} is larger than the stored images ({h}x{w}) plus pad_crop')


def _json_value(value: Any) -> Any:
  return json.loads(json.dumps(value, default=str))


# Fields since removed from the configs, with the value a run held when the field changed nothing (a saved config
# with that value describes the same run as one without the field).
REMOVED_FIELDS = {'debug_nonfinite_step': -1}


def unread_by_schedule(schedule: str, field: str) -> bool:
  """A field the schedule does not read: the plateau rule's settings (plateau_*, those of the past included) under
  another schedule, step_epochs under any but 'step', drop_epochs under any but 'drops'."""
  return ((field.startswith('plateau_') and schedule != 'plateau') or (field == 'step_epochs' and schedule != 'step')
          or (field == 'drop_epochs' and schedule != 'drops'))


def differing_fields(saved: dict, config: ml_collections.ConfigDict, ignore=frozenset(),
                     reference: ml_collections.ConfigDict | None = None) -> list[str]:
  """Fields of `config` that differ from a saved config.json; a field the file lacks (written before the field
  existed) counts as `reference`'s value. With the same schedule on both sides, fields it does not read do not
  count (a cosine run is the same run whatever its plateau settings)."""
  new = _json_value(config.to_dict())
  defaults = new if reference is None else _json_value(reference.to_dict())
  same_schedule = saved.get('schedule') == new.get('schedule')
  return sorted(k for k in set(saved) | set(new)
                if k not in ignore and not (same_schedule and unread_by_schedule(new.get('schedule'), k))
                and not (k in REMOVED_FIELDS and k not in new and saved[k] == REMOVED_FIELDS[k])
                and saved.get(k, defaults.get(k)) != new.get(k))


def check_workdir(config: ml_collections.ConfigDict, workdir: str, allow_config_change: bool = False,
                  reference: ml_collections.ConfigDict | None = None) -> None:
  """Refuses to resume a workdir whose checkpoints were made with another model or training rule (its config.json
  differs outside RESUMABLE_CHANGES; see differing_fields), naming the fields, unless `allow_config_change`."""
  path = os.path.join(workdir, 'config.json')
  checkpoints = os.path.join(workdir, 'checkpoints')
  has_state = os.path.isdir(checkpoints) and any(name.isdigit() for name in os.listdir(checkpoints))
  if not has_state or not os.path.exists(path) or allow_config_change:
    return
  try:
    with open(path) as f:
      saved = json.load(f)
  except (OSError, ValueError) as e:
    raise ConfigError(f'cannot read {path} ({e}); pass --allow_config_change to resume without comparing') from None
  resumable = RESUMABLE_CHANGES
  if config.schedule == 'plateau':  # the rule's checkpointed window counts evaluations: their rate cannot change.
    resumable = resumable - {'eval_every_steps', 'eval_every_epochs'}
  differing = differing_fields(saved, config, resumable, reference)
  if differing:
    new = _json_value(config.to_dict())
    shown = ', '.join(f'{k}: {saved.get(k)!r} -> {new.get(k)!r}' for k in differing[:6])
    more = f' and {len(differing) - 6} more' if len(differing) > 6 else ''
    raise ConfigError(f'{workdir} holds checkpoints of another config ({shown}{more}); use another --workdir, or '
                      'pass --allow_config_change to resume from them anyway')
