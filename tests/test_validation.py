"""Bad input is caught in one place, before anything is written or compiled, with a one-line message."""
import json
import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest
from PIL import Image

from alexnet import parallel
from alexnet import train
from alexnet import validation
from alexnet.data import errors
from alexnet.data import sources
from configs import default as default_config
from configs import imagenet as imagenet_config
from configs import smoke as smoke_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _set(config, **fields):
  """`config` with `fields` set as a config file could set them (any type, any name)."""
  return ml_collections.ConfigDict({**config.to_dict(), **fields})


@pytest.mark.parametrize('fields, message', [
    ({'lrm': 'paper'}, "unknown config field 'lrm' (did you mean 'lrn'?)"),
    ({'batch_size': '128'}, 'config.batch_size must be of type int, got '),
    ({'conv_features': (96, 256, 384, 384, 255)}, 'not divisible by num_towers=2'),
    ({'lrn': 'local'}, "config.lrn must be one of 'paper', 'caffe', 'none', 'batchnorm'; got 'local'"),
    ({'pool': 'max'}, 'config.pool must be one of'),
    ({'init': 'xavier'}, 'config.init must be one of'),
    ({'dtype': 'float16'}, "config.dtype must be one of 'float32', 'bfloat16'"),
    ({'eval_crops': 5}, 'config.eval_crops must be one of 1, 10'),
    ({'schedule': 'linear'}, 'config.schedule must be one of'),
    ({'dropout_rate': 1.0}, 'dropout_rate must be in [0, 1)'),
    ({'batch_size': 0}, 'config.batch_size must be > 0'),
    ({'conv1_padding': '1;2'}, "conv1_padding must be 'VALID', 'SAME' or 'lo,hi'"),
    ({'mesh_data': 2, 'mesh_tower': 2}, 'mesh (data=2, tower=2) needs 4 devices but 2 are available'),
    ({'mesh_tower': 4, 'num_towers': 2, 'mesh_data': 1}, 'needs 4 devices'),
    ({'batch_size': 127, 'mesh_data': 2, 'mesh_tower': 1}, 'batch_size 127 is not divisible by the data axis (2'),
    ({'schedule': 'plateau', 'minival_examples': 0}, 'minival_examples > 0'),
    ({'mesh_data': 0}, 'config.mesh_data must be > 0, or -1'),
    ({'input_workers': -2}, 'config.input_workers must be >= 0, or -1 for one per CPU core'),
    ({'schedule': 'drops'}, "config.drop_epochs must be increasing epochs after the warm-up (0.0) for "
                            "schedule='drops', got ()"),
    ({'schedule': 'drops', 'drop_epochs': (30.0, 20.0)}, 'config.drop_epochs must be increasing epochs'),
    ({'schedule': 'drops', 'drop_epochs': (30, 90.0)}, 'config.drop_epochs ends at 90.0, not before num_epochs'),
])
def test_each_bad_config_gives_its_one_line_message(fields, message):
  config = _set(imagenet_config.get_config(), **fields)
  with pytest.raises(validation.ConfigError) as e:
    validation.validate(config, num_devices=2, reference=imagenet_config.get_config())
  assert message in str(e.value) and '\n' not in str(e.value)


def test_every_shipped_config_is_valid():
  for module in (imagenet_config, default_config, smoke_config):
    validation.validate(module.get_config(), num_devices=2, reference=imagenet_config.get_config())
    assert parallel.resolved_mesh(module.get_config(), num_devices=2) == (1, 2)


def test_config_flags_are_checked_by_name_before_parsing():
  reference = imagenet_config.get_config()
  validation.check_overrides(['--workdir=w', '--config.lrn=none', '--config.conv_features=(8,16,16,16,8)'], reference)
  with pytest.raises(validation.ConfigError, match=r"unknown config field 'lrm' \(did you mean 'lrn'\?\)"):
    validation.check_overrides(['--config=configs/smoke.py', '--config.lrm=none'], reference)


def test_a_field_a_saved_config_lacks_counts_as_the_references():
  """A config.json written before a field existed is read with the reference's value for it."""
  reference, config = imagenet_config.get_config(), smoke_config.get_config()
  saved = {k: v for k, v in json.loads(config.to_json_best_effort()).items() if k != 'activation'}
  assert validation.differing_fields(saved, config, reference=reference) == []
  assert validation.differing_fields(saved, _set(config, activation='tanh'), reference=reference) == ['activation']


def test_the_tower_axis_stays_inside_a_process():
  config = imagenet_config.get_config()
  with pytest.raises(validation.ConfigError, match='multiple of the 2 processes'):
    validation.validate(_set(config, mesh_data=1, mesh_tower=2), num_devices=2, process_count=2)


@pytest.mark.parametrize('num_devices, per_process, expected', [
    (1, 1, (1, 1)), (2, 2, (1, 2)), (8, 8, (4, 2)), (32, 8, (16, 2)), (3, 3, (3, 1)), (4, 1, (4, 1))])
def test_minus_one_axes_fill_from_the_devices(num_devices, per_process, expected):
  """One config on one GPU, 8 GPUs, 4 hosts x 8: the towers split inside a host, data parallelism takes the rest."""
  assert parallel.mesh_shape(-1, -1, 2, num_devices, per_process) == expected
  assert parallel.mesh_shape(2, -1, 2, 8) == (2, 2) and parallel.mesh_shape(-1, 1, 2, 8) == (8, 1)


def _workdir_with_a_checkpoint(tmp_path, config):
  workdir = tmp_path / 'run'
  (workdir / 'checkpoints' / '20').mkdir(parents=True)
  (workdir / 'config.json').write_text(config.to_json_best_effort())
  return str(workdir)


def test_a_workdir_of_another_model_is_refused_naming_the_fields(tmp_path):
  config = smoke_config.get_config()
  workdir = _workdir_with_a_checkpoint(tmp_path, config)
  validation.check_workdir(config, workdir)  # the same config resumes.
  validation.check_workdir(_set(config, num_train_steps=500, log_every_steps=7), workdir)  # run longer: fine.
  other = _set(smoke_config.get_config(), lrn='none', conv_features=(8, 16, 16, 16, 16))
  with pytest.raises(validation.ConfigError) as e:
    validation.check_workdir(other, workdir)
  assert "conv_features: [8, 16, 16, 16, 8] -> [8, 16, 16, 16, 16]" in str(e.value)
  assert "lrn: 'paper' -> 'none'" in str(e.value) and '--allow_config_change' in str(e.value)
  validation.check_workdir(other, workdir, allow_config_change=True)


def test_bad_input_writes_nothing(tmp_path):
  """A refused run leaves no workdir behind (nothing a later run could trip on)."""
  config = _set(smoke_config.get_config(), lrn='local')
  with pytest.raises(validation.ConfigError):
    train.train_and_evaluate(config, str(tmp_path / 'w'))
  config = _set(smoke_config.get_config(), dataset='imagenet2012', data_dir=str(tmp_path / 'nowhere'))
  with pytest.raises(errors.DataNotFoundError, match='python -m alexnet.prepare'):
    train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert not (tmp_path / 'w').exists()


def _image_folder(root, unreadable):
  for c in ('a', 'b'):
    os.makedirs(root / c)
    for i in range(3):
      Image.fromarray(np.full((20, 24, 3), 40 * i, np.uint8)).save(root / c / f'{i}.png')
  (root / 'b' / 'broken.jpg').write_bytes(b'not an image' if unreadable else b'')


def test_an_unreadable_image_is_named_or_skipped_and_counted(tmp_path, caplog):
  _image_folder(tmp_path / 'images', unreadable=True)
  config = _set(smoke_config.get_config(), dataset=f'folder:{tmp_path}/images', resize_size=16, image_size=16)
  with pytest.raises(errors.DataError, match=r'unreadable image .*/b/broken\.jpg \(UnidentifiedImageError'):
    sources.open_split(config, 'train')
  split = sources.open_split(_set(config, unreadable_images='skip'), 'train')
  assert split.num_examples == 6 and 'unreadable image(s) left out' in caplog.text
  images, labels = split.read(np.arange(6))
  assert images.shape == (6, 16, 16, 3) and list(labels) == [0, 0, 0, 1, 1, 1]


@pytest.mark.slow
@pytest.mark.parametrize('args, message', [
    (['--config.lrm=none'], "error: unknown config field 'lrm' (did you mean 'lrn'?)"),
    (['--config.lrn=local'], "error: config.lrn must be one of 'paper', 'caffe', 'none', 'batchnorm'; got 'local'"),
    (['--config.mesh_tower=4'], 'error: num_towers=2 is not divisible by the tower axis (4)'),
    (['--config.dataset=imagenet2012', '--config.data_dir=/nonexistent'],
     "error: Dataset 'imagenet2012' is not prepared under data_dir=/nonexistent"),
])
def test_the_cli_reports_bad_input_in_one_line_with_status_2(tmp_path, args, message):
  workdir = tmp_path / 'w'
  result = subprocess.run([sys.executable, '-m', 'alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}',
                           *args], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines()[-1].startswith(message)
  assert 'Traceback' not in result.stderr and not workdir.exists()


@pytest.mark.slow
def test_the_cli_refuses_a_workdir_of_another_model(tmp_path):
  workdir = tmp_path / 'w'
  base = [sys.executable, '-m', 'alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}',
          '--config.num_train_steps=4', '--config.checkpoint_every_steps=4']
  assert subprocess.run(base, cwd=REPO, capture_output=True, timeout=300).returncode == 0
  result = subprocess.run(base + ['--config.lrn=none'], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2 and "lrn: 'paper' -> 'none'" in result.stderr.strip().splitlines()[-1]
  assert json.loads((workdir / 'config.json').read_text())['lrn'] == 'paper'  # the workdir is as it was.
