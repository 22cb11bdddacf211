"""A trained net used: evaluation of any split, prediction by class name, fine-tuning from a run (init_from), and
imported Caffe weights evaluated end to end against Caffe's forward pass."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from alexnet import checkpoint
from alexnet import evaluate
from alexnet import import_weights
from alexnet import predict
from alexnet import train
from alexnet import validation
from alexnet.data import errors
from alexnet.data import sources
from configs import imagenet as imagenet_config
from configs import smoke as smoke_config
from tests import test_import_weights as caffe_ref

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def smoke(**fields):
  config = smoke_config.get_config()
  config.num_classes, config.num_train_steps, config.eval_every_steps, config.checkpoint_every_steps = 10, 12, 12, 12
  for key, value in fields.items():
    config[key] = value
  return config


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """A 10-class smoke run of 12 steps: (workdir, its config, its summary)."""
  workdir = str(tmp_path_factory.mktemp('smoke10'))
  config = smoke()
  return workdir, config, train.train_and_evaluate(config, workdir)


def rgb_folder(root, classes=('ant', 'bee', 'cat'), per_class=8, size=16, seed=0):
  rng = np.random.default_rng(seed)
  for c, name in enumerate(classes):
    os.makedirs(os.path.join(root, name))
    for i in range(per_class):
      pixels = np.clip(rng.normal(60 + 60 * c, 40, (size, size, 3)), 0, 255).astype(np.uint8)
      Image.fromarray(pixels).save(os.path.join(root, name, f'{i}.png'))
  return root


# ------------------------------------------------------------------------------------------------- evaluation

@pytest.mark.slow
def test_evaluating_a_run_reproduces_its_own_final_numbers(run):
  """The run's test and minival numbers, from its checkpoint and config.json, on one device instead of the mesh."""
  workdir, _, summary = run
  config = evaluate.load_config(workdir)
  test = evaluate.evaluate_run(workdir, config, 'test')
  minival = evaluate.evaluate_run(workdir, config, 'minival')
  assert (test['step'], test['examples'], minival['examples']) == (12, 256, 256)
  assert test['top1_error'] == summary['top1_error'] and test['top5_error'] == summary['top5_error']
  assert test['loss'] == pytest.approx(summary['test_loss'], rel=1e-5)
  assert minival['top1_error'] == summary['minival_top1_error']
  assert json.loads(open(os.path.join(workdir, 'eval_test_1.json')).read())['top1_error'] == test['top1_error']


@pytest.mark.slow
def test_unknown_steps_and_workdirs_are_one_line(run, tmp_path):
  workdir, _, _ = run
  with pytest.raises(evaluate.RunError, match=r'holds no checkpoint 5; it holds 12'):
    evaluate.load_params(workdir, step=5)
  with pytest.raises(evaluate.RunError, match='holds no config.json'):
    evaluate.load_config(str(tmp_path))
  # An override that leaves no training split is the config check's one line, not an error inside the data code.
  config = evaluate.load_config(workdir)
  config.minival_examples = 10**6
  with pytest.raises(validation.ConfigError, match=r'minival_examples=1000000 leaves nothing to train on'):
    evaluate.evaluate_run(workdir, config, 'minival')
  config = evaluate.load_config(workdir)
  config.train_examples = 10**6  # read by the input mean, whatever the split evaluated
  with pytest.raises(validation.ConfigError, match=r'train_examples=1000000 exceeds the'):
    evaluate.evaluate_run(workdir, config, 'test')


# ------------------------------------------------------------------------------------------------- prediction

@pytest.mark.slow
def test_predictions_agree_with_the_evaluation_of_the_same_images(run, tmp_path):
  """The first 32 test images as PNG files: predict's top-1 names are right exactly as often as evaluation says."""
  workdir, config, _ = run
  images, labels = sources.open_split(config, 'test').read(np.arange(32))
  paths = []
  for i, image in enumerate(images):
    paths.append(str(tmp_path / f'{i}.png'))
    Image.fromarray(image[..., 0]).save(paths[-1])
  results = predict.predict(workdir, evaluate.load_config(workdir), paths)
  assert [r['image'] for r in results] == paths and all(len(r['top']) == 5 for r in results)
  assert all(r['top'][0]['name'] == f"class {r['top'][0]['label']}" for r in results)
  correct = sum(r['top'][0]['label'] == label for r, label in zip(results, labels, strict=True))
  eval_config = evaluate.load_config(workdir)
  eval_config.batch_size, eval_config.num_eval_batches = 32, 1
  report = evaluate.evaluate_run(workdir, eval_config, 'test')
  assert report['examples'] == 256 and correct == round(32 * (1 - report['top1_error']))


def test_class_names_come_from_the_dataset(tmp_path):
  config = imagenet_config.get_config()
  names = predict.class_names(config)
  assert (len(names), names[0], names[-1]) == (1000, 'tench', 'toilet tissue')
  config.dataset, config.num_classes = f'folder:{rgb_folder(str(tmp_path / "f"))}', 3
  assert predict.class_names(config) == ['ant', 'bee', 'cat']
  config.dataset, config.num_classes = 'fashion_mnist', 10
  assert predict.class_names(config)[:2] == ['T-shirt/top', 'Trouser']


@pytest.mark.slow
def test_an_image_that_does_not_decode_is_named(run, tmp_path):
  workdir, _, _ = run
  (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg')
  with pytest.raises(errors.DataError, match=f'cannot decode image {tmp_path / "broken.jpg"}'):
    predict.predict(workdir, evaluate.load_config(workdir), [str(tmp_path / 'broken.jpg')])


# --------------------------------------------------------------------------------------------------- fine-tuning

@pytest.mark.slow
def test_fine_tuning_a_10_class_run_into_a_3_class_folder(run, tmp_path):
  """init_from loads every layer but fc8 (3 classes now); the grey conv1 is spread over RGB; optimiser state starts
  fresh. With a vanishing learning rate the trained layers stay the source's."""
  workdir, _, _ = run
  source = checkpoint.restore_state(workdir)[0]['params']
  config = smoke(dataset=f'folder:{rgb_folder(str(tmp_path / "data"))}', num_classes=3, resize_size=16,
                 minival_examples=8, batch_size=8, num_train_steps=2, eval_every_steps=2, checkpoint_every_steps=2,
                 learning_rate=1e-12, momentum=0.0, weight_decay=0.0, init_from=workdir)
  train.train_and_evaluate(config, str(tmp_path / 'tuned'))
  tuned, _ = checkpoint.restore_state(str(tmp_path / 'tuned'))
  params = tuned['params']
  for layer in ('conv2', 'conv3', 'conv4', 'conv5', 'fc6', 'fc7'):
    np.testing.assert_allclose(params['towers'][layer]['kernel'], source['towers'][layer]['kernel'], atol=1e-9)
  np.testing.assert_allclose(params['towers']['conv1']['kernel'],
                             np.repeat(source['towers']['conv1']['kernel'] / 3, 3, axis=-2), atol=1e-9)
  assert params['head']['fc8']['kernel'].shape == (32, 3)
  assert json.loads((tmp_path / 'tuned' / 'config.json').read_text())['init_from'] == workdir


@pytest.mark.slow
def test_init_from_a_net_of_other_widths_is_refused_before_anything_is_written(run, tmp_path):
  workdir, _, _ = run
  config = smoke(init_from=workdir, conv_features=(8, 16, 16, 16, 16))
  with pytest.raises(validation.ConfigError, match=r"params\['towers'\]\['conv5'\]\['bias'\] is \(2, 4\), "
                     r'this net needs \(2, 8\) \(only fc8'):
    train.train_and_evaluate(config, str(tmp_path / 'tuned'))
  assert not (tmp_path / 'tuned').exists()
  with pytest.raises(validation.ConfigError, match='holds no checkpoint'):
    validation.validate(smoke(init_from=str(tmp_path)), 4)


# ---------------------------------------------------------------------------------------------- imported weights

def test_imported_caffe_weights_evaluate_as_caffe_computes(tmp_path):
  """A fused import of a random bvlc_alexnet-shaped caffemodel, evaluated on a folder of images through the whole
  pipeline (resize to 256, Caffe's channel mean, central 227 crop): the same errors as Caffe's forward pass on the
  same pixels."""
  blobs = caffe_ref.random_caffe_blobs(seed=4)
  blobs['fc8'] = [b * 1e-3 for b in blobs['fc8']]  # logits of order 1: no saturated softmax, no tied top-5.
  caffe_ref.write_caffemodel(tmp_path / 'net.caffemodel', blobs)
  import_weights.import_caffe(str(tmp_path / 'net.caffemodel'), str(tmp_path / 'run'), num_towers=1)
  config = evaluate.load_config(str(tmp_path / 'run'))
  config.dataset = f'folder:{rgb_folder(str(tmp_path / "data"), size=64)}'
  config.test_split, config.batch_size, config.input_workers = 'test', 8, 0
  report = evaluate.evaluate_run(str(tmp_path / 'run'), config, 'test')
  images, labels = sources.open_split(config, 'test').read(np.arange(24))
  bgr = images.astype(np.float64)[..., ::-1] - np.asarray(import_weights.CAFFE_MEAN_BGR)
  crops = bgr[:, 14:241, 14:241].transpose(0, 3, 1, 2)
  logits = caffe_ref.caffe_forward(blobs, crops)
  assert report['examples'] == 24
  assert report['top1_error'] == pytest.approx(np.mean(logits.argmax(-1) != labels), abs=1e-7)
  top5 = np.argsort(-logits, axis=-1)[:, :5]
  assert report['top5_error'] == pytest.approx(np.mean(~(top5 == labels[:, None]).any(-1)), abs=1e-7)
  log_probs = logits - logits.max(-1, keepdims=True)
  log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
  assert report['loss'] == pytest.approx(-np.mean(log_probs[np.arange(24), labels]), rel=1e-4)


# ------------------------------------------------------------------------------------------------- command line

def cli(*args):
  return subprocess.run([sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_evaluate_and_predict_on_the_command_line(run, tmp_path):
  workdir, _, summary = run
  out = cli('alexnet.evaluate', f'--workdir={workdir}', '--split=test', '--config.batch_size=64')
  assert out.returncode == 0, out.stderr[-2000:]
  assert f"top-1 error {100 * summary['top1_error']:.2f}%" in out.stdout
  image = tmp_path / 'a.png'
  Image.fromarray(np.zeros((16, 16), np.uint8)).save(image)
  out = cli('alexnet.predict', f'--workdir={workdir}', '--json', str(image))
  assert out.returncode == 0, out.stderr[-2000:]
  top = json.loads(out.stdout)[0]['top']
  assert len(top) == 5 and abs(sum(t['probability'] for t in top) - 1) < 0.5
  (tmp_path / 'b.jpg').write_bytes(b'\xff\xd8 truncated')
  out = cli('alexnet.predict', f'--workdir={workdir}', str(tmp_path / 'b.jpg'))
  assert out.returncode == 2 and out.stdout == ''
  assert out.stderr.strip().splitlines()[-1].startswith(f'error: cannot decode image {tmp_path / "b.jpg"}')
  out = cli('alexnet.evaluate', f'--workdir={tmp_path}')
  assert out.returncode == 2 and 'holds no config.json' in out.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_figure3_reads_an_imported_checkpoint(tmp_path):
  blobs = caffe_ref.random_caffe_blobs(seed=5)
  caffe_ref.write_caffemodel(tmp_path / 'net.caffemodel', blobs)
  import_weights.import_caffe(str(tmp_path / 'net.caffemodel'), str(tmp_path / 'run'))
  out = cli('experiments.kernels', f'--workdir={tmp_path / "run"}')
  assert out.returncode == 0, out.stderr[-2000:]
  assert (tmp_path / 'run' / 'kernels.png').exists() and 'tower 0: ' in out.stdout and 'tower 1: ' in out.stdout
