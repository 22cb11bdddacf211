"""The ImageNet path on a synthetic ILSVRC2012 in the real layout: TFDS's builder prepares it offline with exact labels,
odd files come out as RGB, a missing or partial manual dir is one line, the grain reader decodes it in workers, and a
config the small set cannot serve is refused in one line."""
import os
import subprocess
import sys
import tarfile

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.datasets.imagenet2012 import imagenet_common

from alexnet import checkpoint
from alexnet import train
from alexnet import validation
from alexnet.data import errors
from alexnet.data import imagenet
from alexnet.data import imaging
from alexnet.data import order
from alexnet.data import prepare
from alexnet.data import sources
from configs import imagenet as imagenet_config
from configs import smoke as smoke_config
from experiments import input_throughput
from experiments import synthetic_imagenet

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES, PER_CLASS, VAL = 4, 6, 8


@pytest.fixture(scope='module')
def manual_dir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('manual'))
  counts = synthetic_imagenet.write(path, classes=CLASSES, train_per_class=PER_CLASS, val_images=VAL)
  assert counts == {'train': CLASSES * PER_CLASS, 'validation': VAL}
  return path


@pytest.fixture(scope='module')
def data_dir(manual_dir, tmp_path_factory):
  path = str(tmp_path_factory.mktemp('tfds'))
  prepare.prepare('imagenet2012', path, manual_dir)
  return path


def _name(example):
  name = example['file_name']
  return name.decode() if isinstance(name, bytes) else name


def test_synthetic_tars_have_the_real_layout(manual_dir):
  with tarfile.open(os.path.join(manual_dir, imagenet.TRAIN_TAR)) as tar:
    synset_tars = tar.getnames()
  assert len(synset_tars) == CLASSES and all(imagenet.SYNSET_TAR.fullmatch(n) for n in synset_tars)
  assert {n[:-4] for n in synset_tars} <= set(imagenet.synsets())
  with tarfile.open(os.path.join(manual_dir, imagenet.VAL_TAR)) as tar:
    assert all(imagenet.VAL_NAME.fullmatch(n) for n in tar.getnames())


def test_tfds_builder_prepares_them_with_the_labels_they_were_written_under(data_dir):
  synsets, truth = imagenet.synsets(), imagenet.validation_synsets()
  kinds = set()
  for split, n in (('train', CLASSES * PER_CLASS), ('validation', VAL)):
    source = tfds.data_source('imagenet2012', split=split, data_dir=data_dir)
    assert len(source) == n
    for i in range(n):
      example = source[i]
      name, image = _name(example), example['image']
      written_under = name.split('_')[0] if split == 'train' else truth[int(name[15:23]) - 1]
      assert synsets[example['label']] == written_under, name
      assert image.ndim == 3 and image.shape[-1] == 3 and image.dtype == np.uint8, name
      # The pixels agree with the label too: each synset was drawn around its own colour.
      np.testing.assert_allclose(image.reshape(-1, 3).mean(0), synthetic_imagenet.synset_colour(written_under),
                                 atol=30, err_msg=name)
      kind = synthetic_imagenet.SPECIAL.get(name)
      if kind is None and np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1],
                                                                                          image[..., 2]):
        kind = 'L'
      kinds.add(kind)
  assert {'CMYK', 'PNG', 'L'} <= kinds  # a CMYK JPEG, the PNG named .JPEG and a grey-scale JPEG, all as RGB


def test_validation_labels_come_from_the_image_number_not_the_position(manual_dir):
  with tarfile.open(os.path.join(manual_dir, imagenet.VAL_TAR)) as tar:
    names = tar.getnames()
  truth = imagenet.validation_synsets()
  ours = imagenet.validation_labels(names)
  assert all(ours[n] == truth[int(n[15:23]) - 1] for n in names)
  # TFDS's own rule pairs sorted names with the label list by position: on this partial tar it mislabels.
  assert imagenet_common.get_validation_labels(os.path.join(manual_dir, imagenet.VAL_TAR)) != ours
  # On the complete tar both rules agree: name N is the N-th sorted name.
  full = [f'ILSVRC2012_val_{n:08d}.JPEG' for n in range(1, imagenet.NUM_VAL + 1)]
  assert imagenet.validation_labels(full) == dict(zip(sorted(full), truth, strict=True))


def test_a_missing_or_partial_manual_dir_is_one_line_naming_what_is_missing(manual_dir, tmp_path):
  with pytest.raises(imagenet.ManualDirError, match='is not a folder'):
    imagenet.check_manual_dir(str(tmp_path / 'nowhere'))
  only_train = tmp_path / 'only_train'
  only_train.mkdir()
  os.symlink(os.path.join(manual_dir, imagenet.TRAIN_TAR), only_train / imagenet.TRAIN_TAR)
  with pytest.raises(imagenet.ManualDirError, match=f'^{imagenet.VAL_TAR} missing from'):
    imagenet.check_manual_dir(str(only_train))
  truncated = tmp_path / 'truncated'
  truncated.mkdir()
  os.symlink(os.path.join(manual_dir, imagenet.VAL_TAR), truncated / imagenet.VAL_TAR)
  with open(os.path.join(manual_dir, imagenet.TRAIN_TAR), 'rb') as f:
    (truncated / imagenet.TRAIN_TAR).write_bytes(f.read()[:300_000])
  with pytest.raises(imagenet.ManualDirError, match='is not a complete tar'):
    imagenet.check_manual_dir(str(truncated))
  renamed = tmp_path / 'renamed'
  renamed.mkdir()
  os.symlink(os.path.join(manual_dir, imagenet.TRAIN_TAR), renamed / imagenet.TRAIN_TAR)
  with tarfile.open(renamed / imagenet.VAL_TAR, 'w') as tar:
    tar.add(os.path.join(manual_dir, imagenet.TRAIN_TAR), arcname='cat.jpg')
  with pytest.raises(imagenet.ManualDirError, match="holds 'cat.jpg'"):
    imagenet.check_manual_dir(str(renamed))
  with pytest.raises(errors.DataNotFoundError, match=f'^imagenet2012: {imagenet.VAL_TAR} missing from'):
    prepare.prepare('imagenet2012', str(tmp_path / 'tfds'), str(only_train))
  assert not (tmp_path / 'tfds' / 'imagenet2012').exists()  # nothing written


def test_prepare_cli_prints_one_error_line(manual_dir, tmp_path):
  result = subprocess.run([sys.executable, '-m', 'alexnet.prepare', '--dataset=imagenet2012',
                           f'--data_dir={tmp_path}', f'--manual_dir={tmp_path / "empty"}'], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith('error: imagenet2012: --manual_dir=')
  assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_the_256_dataset_is_section_2s_down_sampled_copy_with_the_same_labels(manual_dir, data_dir):
  prepare.prepare('imagenet2012_256', data_dir, manual_dir)
  for split in ('train', 'validation'):
    full = tfds.data_source('imagenet2012', split=split, data_dir=data_dir)
    small = tfds.data_source('imagenet2012_256', split=split, data_dir=data_dir)
    by_name = {_name(full[i]): full[i] for i in range(len(full))}
    assert len(small) == len(full)
    for i in range(len(small)):
      example = small[i]
      original = by_name[_name(example)]
      assert example['label'] == original['label'] and example['image'].shape == (256, 256, 3)
      expected = imaging.resize_and_center_crop(original['image'], 256).astype(np.float32)
      assert np.abs(example['image'] - expected).mean() < 4  # the same picture, JPEG-encoded once more


@pytest.mark.slow
def test_grain_reader_on_imagenet_is_the_same_with_worker_processes(data_dir):
  config = imagenet_config.get_config()
  config.update(data_dir=data_dir, batch_size=8, input_workers=0)
  split = sources.open_split(config, 'train')
  assert split.image_shape == (256, 256, 3)
  in_process = [b['image'] for b, _ in zip(order.iterate(order.train_dataset(split, config), 0), range(4))]
  workers = order.iterate(order.train_dataset(split, config), 2)
  try:
    for expected in in_process:
      np.testing.assert_array_equal(next(workers)['image'], expected)
  finally:
    order.close_iterator(workers)


def test_configs_imagenet_on_fewer_examples_than_minival_is_refused_in_one_line(data_dir, tmp_path):
  """configs/imagenet.py holds out 10,000 examples as minival: on this 24-image set that is one line, before anything
  is written or compiled (`python -m alexnet.main` prints it and exits with status 2)."""
  config = imagenet_config.get_config()
  config.data_dir = data_dir
  with pytest.raises(validation.ConfigError, match=r'^minival_examples=10000 leaves nothing to train on: '
                     r'imagenet2012:train holds 24 examples; set --config.minival_examples below that$'):
    train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert not (tmp_path / 'w').exists()


def test_input_throughput_refuses_fewer_examples_than_a_batch_in_one_line(data_dir):
  config = imagenet_config.get_config()
  config.update(data_dir=data_dir, minival_examples=8)
  with pytest.raises(validation.ConfigError, match=r'^batch_size 128 exceeds the 16 training examples \(24 examples '
                     r'of imagenet2012:train less minival_examples=8\)$'):
    input_throughput.measure(config, ['imagenet2012'], [0], 1)
  config.batch_size = 8
  assert input_throughput.training_split(config).num_examples == 16  # what training reads: train less minival


BAD_CONFIGS_IMAGENET = 'error: minival_examples=10000 leaves nothing to train on: imagenet2012:train holds 24 examples'


@pytest.mark.slow
@pytest.mark.parametrize('command, message', [
    (['alexnet.main', '--workdir={tmp}/w'], BAD_CONFIGS_IMAGENET),
    (['experiments.input_throughput', '--workers=0'], BAD_CONFIGS_IMAGENET),
    (['experiments.input_throughput', '--workers=0', '--config.minival_examples=8'],
     'error: batch_size 128 exceeds the 16 training examples'),
])
def test_the_commands_refuse_configs_imagenet_on_the_small_set_with_status_2(data_dir, tmp_path, command, message):
  module, *args = command
  args = ['--config=configs/imagenet.py', f'--config.data_dir={data_dir}', *(a.format(tmp=tmp_path) for a in args)]
  result = subprocess.run([sys.executable, '-m', module, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines()[-1].startswith(message)
  assert 'Traceback' not in result.stderr and not (tmp_path / 'w').exists()


@pytest.mark.slow
def test_configs_imagenet_trains_on_the_prepared_synthetic_set(tmp_path):
  """The paper's 227x227 two-tower net from configs/imagenet.py, a few steps on the synthetic tars through the two
  documented commands (docs/data.md); only the run length, the batch and the held-out size are set for a
  40-image-per-class set."""
  manual, data = str(tmp_path / 'manual'), str(tmp_path / 'tfds')
  synthetic_imagenet.write(manual, classes=4, train_per_class=20, val_images=10)
  subprocess.run([sys.executable, '-m', 'alexnet.prepare', '--dataset=imagenet2012', f'--manual_dir={manual}',
                  f'--data_dir={data}'], cwd=REPO, check=True, capture_output=True, timeout=300)
  workdir = tmp_path / 'run'
  result = subprocess.run(
      [sys.executable, '-m', 'alexnet.main', '--config=configs/imagenet.py', f'--workdir={workdir}',
       f'--config.data_dir={data}', '--config.num_train_steps=3', '--config.batch_size=16',
       '--config.minival_examples=16', '--config.num_eval_batches=1', '--config.log_every_steps=1'],
      cwd=REPO, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = __import__('json').loads((workdir / 'summary.json').read_text())
  assert summary['step'] == 3 and summary['test_split'] == 'validation'
  assert np.isfinite(summary['test_loss']) and summary['minival_examples'] == 16
  assert "'tower': 2" in result.stderr and '(227, 227, 3)' in result.stderr


@pytest.mark.slow
def test_resume_with_worker_processes_reads_on_from_the_saved_iterator_state(data_dir, tmp_path):
  """A small net on the prepared tars, read by 2 grain worker processes: stopped at step 3 (mid-epoch 2) and resumed
  from the iterator state in the checkpoint, it ends bitwise like a straight run."""
  config = smoke_config.get_config()
  config.update(dataset='imagenet2012', data_dir=data_dir, num_classes=1000, resize_size=20, image_size=16,
                cache_decoded=False, input_workers=2, minival_examples=8, test_split='validation', batch_size=8,
                eval_every_steps=3, checkpoint_every_steps=3, num_train_steps=5, dropout_rate=0.5)
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  config.num_train_steps = 3
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  saved = (tmp_path / 'resumed' / 'checkpoints' / '3' / 'data' / 'process_0-of-1.json').read_text()
  assert 'next_index_in_cycle' in saved  # the state of grain's worker processes, not of one in-process iterator
  config.num_train_steps = 5
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  state_a = checkpoint.restore_state(str(tmp_path / 'straight'))[0]
  state_b = checkpoint.restore_state(str(tmp_path / 'resumed'))[0]
  for a, b in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b), strict=True):
    np.testing.assert_array_equal(a, b)
  assert resumed['test_loss'] == straight['test_loss'] and resumed['step'] == 5
