"""What a sweep file may say (experiments/sweep/sweep_file.py SETTINGS): every committed file loads, an undeclared or
missing name is refused in one line, defaults come from one table."""
import glob
import os
import types

import pytest

from experiments.sweep import sweep_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(tmp_path, text: str) -> str:
  path = tmp_path / 'q.py'
  path.write_text(text)
  return str(path)


def test_every_committed_sweep_file_loads_and_uses_declared_settings_only():
  files = sorted(glob.glob(os.path.join(REPO, 'experiments', 'sweeps', '[a-z]*.py')))
  assert len(files) == 15
  for path in files:
    module = sweep_file.load(path)
    assert {n for n in vars(module) if n[0].isupper()} <= set(sweep_file.SETTINGS), path


def test_an_undeclared_setting_is_refused_with_the_declared_ones(tmp_path):
  path = write(tmp_path, "BASE = 'configs/smoke.py'\nMETRICS = 'x'\nSHORTT = {}\n\n\ndef get_hyper(h, base):\n"
                         '  return []\n')
  with pytest.raises(sweep_file.SweepFileError) as e:
    sweep_file.load(path)
  message = str(e.value)
  assert '\n' not in message
  assert message.startswith(f'{path}: unknown setting METRICS, SHORTT (a sweep file')
  assert all(name in message for name in sweep_file.SETTINGS)


def test_a_file_without_base_or_get_hyper_is_refused(tmp_path):
  with pytest.raises(sweep_file.SweepFileError, match=r'q\.py: defines no BASE and no get_hyper$'):
    sweep_file.load(write(tmp_path, "_LOCAL = 1\n"))
  # A file's own constants (a leading underscore) and helpers (lower case) are its business.
  module = sweep_file.load(write(tmp_path, "BASE = 'configs/smoke.py'\n_RATES = (1,)\n\n\ndef helper():\n"
                                           "  return 1\n\n\ndef get_hyper(h, base):\n  return []\n"))
  assert module._RATES == (1,)  # pylint: disable=protected-access


def test_settings_default_from_the_table():
  bare = types.SimpleNamespace(BASE='configs/smoke.py')
  assert sweep_file.setting(bare, 'ENTRY') == 'alexnet.main'
  assert sweep_file.setting(bare, 'METRIC') == sweep_file.metric(bare) == 'test_top1_error'
  assert sweep_file.setting(bare, 'SHORT') == {} and sweep_file.setting(bare, 'TRAIN_ERROR_TARGET') == ()
  assert sweep_file.setting(types.SimpleNamespace(METRIC='minival_top1_error'), 'METRIC') == 'minival_top1_error'
  with pytest.raises(KeyError):
    sweep_file.setting(bare, 'NOT_A_SETTING')


def test_a_point_that_sets_a_field_twice_is_refused_in_one_line(tmp_path):
  from experiments.sweep import plan  # pylint: disable=g-import-not-at-top
  path = write(tmp_path, "BASE = 'configs/smoke.py'\n\n\ndef get_hyper(h, base):\n"
                         "  return h.product([h.fixed('config.num_epochs', 1.0), h.fixed('config.num_epochs', 2.0)])\n")
  module = sweep_file.load(path)
  with pytest.raises(sweep_file.SweepFileError, match=r"q\.py: get_hyper: a point sets \['config.num_epochs'\] twice$"):
    plan.plan(module, sweep_file.load_config(module.BASE), 'full', str(tmp_path))
