"""The paper's update rule, the plateau schedule, the CLI end to end, exact resume, non-finite steps, and the
report a run writes (TensorBoard events without TensorFlow)."""
import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from alexnet import checkpoint
from alexnet import optim
from alexnet import progress
from alexnet import records
from alexnet import run_summary
from alexnet import steps
from alexnet import train
from alexnet import validation
from alexnet.data import order
from alexnet.data import splits
from configs import default as default_config
from configs import imagenet as imagenet_config
from configs import smoke as smoke_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def nan_pixels_at(at: int):
  """`steps.train_step`, fed NaN pixels at state step `at` (the step numbered at + 1): that step's loss and gradients
  are not finite."""
  def step_fn(state, batch, stats, **kwargs):
    nan = jnp.where(state.step == at, jnp.float32(jnp.nan), jnp.float32(1))
    return steps.train_step(state, batch | {'image': batch['image'] * nan}, stats, **kwargs)
  return step_fn


# Runs alexnet.main with the 8th step fed NaN pixels.
NONFINITE_CLI = """
from absl import app
import functools
from alexnet import main, train
from tests.test_train import nan_pixels_at
train.train_and_evaluate = functools.partial(train.train_and_evaluate, step_fn=nan_pixels_at(7))
app.run(main.main)
"""


@pytest.mark.parametrize('decay_biases', [True, False])
def test_update_rule_matches_section_5(decay_biases):
  """v <- 0.9 v - 0.0005 lr w - lr g; w <- w + v, over 20 steps with the rate divided by 10 after step 10."""
  config = imagenet_config.get_config()
  config.decay_biases = decay_biases
  rng = np.random.default_rng(0)
  params = {'conv1': {'kernel': rng.normal(size=(3, 4)).astype(np.float32),
                      'bias': rng.normal(size=(4,)).astype(np.float32)}}
  tx = optim.make_optimizer(config, steps_per_epoch=100)
  opt_state = tx.init(params)
  w = {k: v.astype(np.float64) for k, v in params['conv1'].items()}
  v = {k: np.zeros_like(x) for k, x in w.items()}
  lr = 0.01
  for step in range(20):
    if step == 10:
      lr = 0.001
      opt_state = optim.set_plateau_scale(opt_state, 0.1)
    grads = {'conv1': {k: rng.normal(size=x.shape).astype(np.float32) for k, x in w.items()}}
    updates, opt_state = tx.update(grads, opt_state, params)
    params = jax.tree.map(lambda p, u: p + u, params, updates)
    for k in w:
      decay = 0.0005 if (k == 'kernel' or decay_biases) else 0.0
      v[k] = 0.9 * v[k] - decay * lr * w[k] - lr * grads['conv1'][k]
      w[k] = w[k] + v[k]
  for k in w:
    np.testing.assert_allclose(params['conv1'][k], w[k], rtol=1e-5, atol=1e-7)


def test_velocity_is_kept_when_the_rate_drops():
  """Right after a drop the step is 0.9 * v_old - new_lr * g: the old velocity is not rescaled."""
  config = imagenet_config.get_config()
  config.weight_decay = 0.0
  tx = optim.make_optimizer(config, steps_per_epoch=100)
  params = {'w': jnp.zeros(())}
  state = tx.init(params)
  _, state = tx.update({'w': jnp.ones(())}, state, params)  # v = -0.01
  state = optim.set_plateau_scale(state, 0.1)
  updates, _ = tx.update({'w': jnp.ones(())}, state, params)
  np.testing.assert_allclose(updates['w'], 0.9 * -0.01 - 0.001, rtol=1e-6)


def test_minival_is_held_out_of_training():
  """The last examples form minival; two epochs of training batches read every other example and none of them."""
  images = np.arange(100, dtype=np.uint8)[:, None, None, None]  # each image holds its own index
  split = splits.array_split('toy:train', images, np.zeros(100, np.int32))
  train_split, minival = splits.hold_out_minival(split, 20)
  assert (train_split.num_examples, minival.num_examples) == (80, 20)
  assert minival.name == 'toy:train[80:100]'
  read = set()
  config = imagenet_config.get_config()
  config.batch_size = 8
  batches = order.train_dataset(train_split, config)
  for step in range(2 * 80 // 8):
    read |= set(batches[step]['image'].ravel().tolist())
  evaluated = set()
  for batch in order.eval_batches(minival, batch_size=8):
    evaluated |= set(batch['image'].ravel()[batch['mask']].tolist())
  assert read == set(range(80)) and evaluated == set(range(80, 100))
  assert splits.hold_out_minival(split, 0) == (split, None)


@pytest.mark.slow
def test_the_test_split_is_evaluated_once_and_the_plateau_reads_minival(tmp_path, monkeypatch):
  calls = []

  def scripted_evaluate(state, split, stats, p_eval_step, config, batch_sharding):
    del stats, p_eval_step, config, batch_sharding
    calls.append((split.name, int(state.step)))
    # minival never improves after its first window: with windows of 2 evaluations (an epoch is 24 steps) and a
    # patience of one window, the rate drops after the second window; the test split's error is worse still, and
    # must not reach the plateau rule.
    return {'loss': 1.0, 'top1_error': 0.5 if split.name.endswith('[768:1024]') else 0.9, 'top5_error': 0.1}

  monkeypatch.setattr(train, 'evaluate', scripted_evaluate)
  config = smoke_config.get_config()
  config.num_train_steps, config.eval_every_steps, config.checkpoint_every_steps = 60, 10, 60
  config.plateau_patience_epochs = 1.0
  summary = train.train_and_evaluate(config, str(tmp_path))
  assert calls == [('synthetic:train[768:1024]', s) for s in (10, 20, 30, 40, 50, 60)] + [('synthetic:test', 60)]
  rates = [h['learning_rate'] for h in summary['minival_history']]
  np.testing.assert_allclose(rates, [1e-2, 1e-2, 1e-2, 1e-3, 1e-3, 1e-3], rtol=1e-5)
  assert summary['top1_error'] == 0.9 and summary['minival_top1_error'] == 0.5
  assert [d['step'] for d in summary['lr_drops']] == [40] and summary['end_reason'] == 'num_train_steps'
  # summary.json: the schema's fields first, in its order (alexnet/run_summary.py), then the loop's own.
  assert list(summary)[:len(run_summary.FIELDS)] == list(run_summary.FIELDS)
  assert summary == run_summary.read(str(tmp_path))


def flat_minival(calls):
  """A scripted `train.evaluate`: minival's error is 0.5 at every evaluation (it never improves after the first
  window), the test split's 0.9; the evaluated steps are appended to `calls`."""
  def scripted_evaluate(state, split, stats, p_eval_step, config, batch_sharding):
    del stats, p_eval_step, config, batch_sharding
    calls.append(int(state.step))
    return {'loss': 1.0, 'top1_error': 0.5 if split.name.endswith('[768:1024]') else 0.9, 'top5_error': 0.1}
  return scripted_evaluate


@pytest.mark.slow
def test_the_plateau_rule_ends_the_run_and_resumes_mid_patience_bitwise(tmp_path, monkeypatch):
  """Windows of 4 evaluations (an epoch of 24 steps, minival every 6), patience 2 epochs, cooldown 1, 3 drops: on a
  flat minival error the rate drops after epochs 3, 6 and 9 and the rule ends the run after epoch 12 (step 288),
  well before the 480-step cap. Stopped at step 132 (mid-window, one window into a patience) and resumed, the run
  makes the same drops, ends at the same step and holds the same state, bit for bit."""
  monkeypatch.setattr(train, 'evaluate', flat_minival([]))
  config = smoke_config.get_config()
  config.num_train_steps, config.eval_every_steps, config.checkpoint_every_steps = 480, 6, 1000
  config.plateau_patience_epochs, config.plateau_cooldown_epochs, config.plateau_max_drops = 2.0, 1.0, 3
  config.dropout_rate, config.log_every_steps = 0.5, 24
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  assert [d['step'] for d in straight['lr_drops']] == [72, 144, 216]
  np.testing.assert_allclose([d['learning_rate'] for d in straight['lr_drops']], [1e-3, 1e-4, 1e-5], rtol=1e-5)
  assert straight['step'] == 288 and straight['end_reason'] == 'plateau rule done'

  config.num_train_steps = 132
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.num_train_steps = 480
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  for key in ('lr_drops', 'end_reason', 'step', 'minival_history', 'top1_error'):
    assert resumed[key] == straight[key], key
  (step_a, state_a) = latest_checkpoint(tmp_path / 'straight')
  (step_b, state_b) = latest_checkpoint(tmp_path / 'resumed')
  assert step_a == step_b == 288
  for a, b in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b), strict=True):
    np.testing.assert_array_equal(a, b)
  again = train.train_and_evaluate(config, str(tmp_path / 'resumed'))  # the same command on a finished run
  assert again['step'] == 288 and again['lr_drops'] == straight['lr_drops']


def test_the_plateau_rule_needs_a_minival(tmp_path):
  config = smoke_config.get_config()
  config.minival_examples = 0
  with pytest.raises(validation.ConfigError, match='minival_examples > 0'):
    train.train_and_evaluate(config, str(tmp_path))


@pytest.mark.slow
def test_main_cli_smoke_end_to_end(tmp_path):
  workdir = tmp_path / 'smoke'
  result = subprocess.run([sys.executable, '-m', 'alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.loads((workdir / 'summary.json').read_text())
  assert {'top1_error', 'top5_error', 'step', 'epoch', 'train_images_per_sec', 'config_name', 'minival_top1_error',
          'minival_top5_error', 'minival_history'} <= set(summary)
  # 1024 synthetic training examples less 256 held out as minival: 24 steps of 32 an epoch.
  assert summary['config_name'] == 'smoke' and summary['step'] == 96 and summary['epoch'] == 4.0
  assert summary['minival_examples'] == 256 and summary['test_split'] == 'test'
  history = summary['minival_history']
  assert [h['step'] for h in history] == [20, 40, 60, 80, 96]
  assert history[-1]['top1_error'] == summary['minival_top1_error']
  assert history[-1]['loss'] < np.log(4) - 0.3      # below chance-level cross-entropy for 4 classes
  assert summary['top1_error'] < 0.5                # chance is 0.75
  assert history[-1]['loss'] < history[0]['loss']
  assert (workdir / 'config.json').exists() and any(n.startswith('events.out') for n in os.listdir(workdir))
  assert 'ETA' in result.stderr and 'train/images_per_sec' in result.stderr  # progress.Progress and the log


def latest_checkpoint(workdir):
  manager = ocp.CheckpointManager(os.path.join(workdir, 'checkpoints'))
  return manager.latest_step(), checkpoint.restore_state(str(workdir))[0]


@pytest.mark.slow
def test_resume_equals_a_straight_run(tmp_path):
  config = smoke_config.get_config()
  config.dropout_rate = 0.5
  config.eval_every_steps = config.checkpoint_every_steps = 12
  config.num_train_steps = 24
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  config.num_train_steps = 12
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.num_train_steps = 24
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))

  step_a, state_a = latest_checkpoint(tmp_path / 'straight')
  step_b, state_b = latest_checkpoint(tmp_path / 'resumed')
  assert step_a == step_b == 24
  leaves_a, leaves_b = jax.tree.leaves(state_a), jax.tree.leaves(state_b)
  assert len(leaves_a) == len(leaves_b) > 10
  for a, b in zip(leaves_a, leaves_b, strict=True):
    np.testing.assert_array_equal(a, b)
  for key in ('top1_error', 'top5_error', 'test_loss', 'minival_top1_error', 'minival_top5_error', 'step'):
    assert resumed[key] == straight[key], key
  assert resumed['minival_history'] == straight['minival_history']  # the history survives the restart.
  assert [h['step'] for h in resumed['minival_history']] == [12, 24]


def test_cpu_conv_library_sets_the_compiler_option():
  config = imagenet_config.get_config()
  assert config.cpu_conv_library == 'xla'
  assert steps.compiler_options(config) == {
      'xla_cpu_experimental_ynn_fusion_type': 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}  # tests run on CPU.
  config.cpu_conv_library = 'ynnpack'
  assert steps.compiler_options(config) is None
  config.cpu_conv_library = 'onednn'
  with pytest.raises(validation.ConfigError, match='cpu_conv_library must be one of'):
    validation.validate(config, num_devices=2)


@pytest.mark.slow
def test_the_summed_step_is_the_train_step_plus_running_sums():
  """The loop's one program per step (`summed_train_step`): the same new state as the step it sums (here
  `train_step` fed NaN pixels at one step), bit for bit, and sums that are the per-step metrics added up;
  first_nonfinite names the first poisoned step (1-based)."""
  config = smoke_config.get_config()
  config.nonfinite, config.parallelism = 'skip', 'single'
  step_fn = nan_pixels_at(1)
  network = steps.build_network(config)
  tx = optim.make_optimizer(config, steps_per_epoch=10)
  image_shape = (config.image_size, config.image_size, 1)
  state, state_sharding = steps.init_state(config, network, tx, image_shape)
  summed, _ = steps.jit_steps(config, network, tx, state_sharding, step_fn)
  plain = jax.jit(functools.partial(step_fn, network=network, tx=tx, config=config),
                  compiler_options=steps.compiler_options(config))
  rng = np.random.default_rng(0)
  stats = {'mean_image': jnp.zeros(image_shape), 'channel_mean': jnp.zeros(1), 'eigvals': jnp.ones(1),
           'eigvecs': jnp.eye(1)}
  plain_state, sums, metrics = jax.device_get(state), steps.zero_sums(), []
  for _ in range(3):
    batch = {'image': rng.integers(0, 256, (config.batch_size, *image_shape), dtype=np.uint8),
             'label': rng.integers(0, config.num_classes, config.batch_size).astype(np.int32)}
    plain_state, m = plain(plain_state, batch, stats)
    metrics.append(jax.device_get(m))
    state, sums = summed(state, sums, train.put_batch(batch, network.batch_sharding()), stats)
  for a, b in zip(jax.tree.leaves(jax.device_get(state)), jax.tree.leaves(jax.device_get(plain_state)), strict=True):
    np.testing.assert_array_equal(a, b)
  sums = jax.device_get(sums)
  assert set(sums) == set(steps.TRAIN_METRICS) | {'first_nonfinite'}
  assert sums['nonfinite'] == 1 and sums['first_nonfinite'] == 2
  finite = [m for m in metrics if not m['nonfinite']]
  for k in ('top1_error', 'top5_error', 'learning_rate'):
    assert sums[k] == pytest.approx(sum(float(m[k]) for m in metrics), rel=1e-6)
  assert np.isnan(sums['loss']) and len(finite) == 2


@pytest.mark.slow
def test_a_nonfinite_step_stops_the_run_and_the_last_good_checkpoint_survives(tmp_path):
  config = smoke_config.get_config()
  config.num_train_steps, config.checkpoint_every_steps, config.eval_every_steps = 30, 10, 10
  config.max_checkpoints = 1  # even with one kept, the bad state never displaces the good one.
  poisoned = nan_pixels_at(24)  # the 25th step
  with pytest.raises(train.NonFiniteError, match=r'at step 25; stopped\. The last good checkpoint is step 20 '):
    train.train_and_evaluate(config, str(tmp_path / 'stop'), step_fn=poisoned)
  step, state = latest_checkpoint(tmp_path / 'stop')
  assert step == 20 and all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state))
  assert not (tmp_path / 'stop' / 'summary.json').exists()

  config.nonfinite = 'skip'
  summary = train.train_and_evaluate(config, str(tmp_path / 'skip'), step_fn=poisoned)
  assert summary['step'] == 30 and summary['skipped_steps'] == 1
  _, state = latest_checkpoint(tmp_path / 'skip')
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state))


@pytest.mark.slow
def test_a_run_that_diverges_before_its_first_checkpoint_says_none_was_written(tmp_path):
  config = smoke_config.get_config()
  config.learning_rate = 1e9
  config.num_train_steps, config.checkpoint_every_steps, config.eval_every_steps = 12, 10, 10
  with pytest.raises(train.NonFiniteError, match=r'at step \d+; stopped\. No checkpoint was written before it '
                     r'\(they are saved every 10 steps and at the end\), so there is nothing to resume: lower the '
                     r'learning rate'):
    train.train_and_evaluate(config, str(tmp_path))
  assert checkpoint.latest_step(str(tmp_path)) is None and not (tmp_path / 'summary.json').exists()


@pytest.mark.slow
def test_skip_mode_changes_nothing_when_every_step_is_finite(tmp_path):
  config = smoke_config.get_config()
  config.num_train_steps, config.checkpoint_every_steps, config.eval_every_steps = 12, 12, 12
  train.train_and_evaluate(config, str(tmp_path / 'stop'))
  config.nonfinite = 'skip'
  train.train_and_evaluate(config, str(tmp_path / 'skip'))
  for a, b in zip(jax.tree.leaves(latest_checkpoint(tmp_path / 'stop')[1]),
                  jax.tree.leaves(latest_checkpoint(tmp_path / 'skip')[1]), strict=True):
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_the_cli_reports_a_nonfinite_step_in_one_line(tmp_path):
  result = subprocess.run([sys.executable, '-c', NONFINITE_CLI, '--config=configs/smoke.py', f'--workdir={tmp_path}',
                           '--config.num_train_steps=12', '--config.checkpoint_every_steps=5'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('error: non-finite loss or gradient norm at step 8')
  assert 'last good checkpoint is step 5' in last
  assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_profile_steps_write_a_tensorboard_profile(tmp_path):
  """progress.Profile: `profile_steps` steps from step 10, in the workdir's plugins/profile (TensorBoard's profile
  tab)."""
  config = smoke_config.get_config()
  config.num_train_steps, config.profile_steps, config.checkpoint_every_steps = 16, 3, 16
  train.train_and_evaluate(config, str(tmp_path))
  traces = [f for _, _, files in os.walk(tmp_path / 'plugins' / 'profile') for f in files]
  assert any(f.endswith('.xplane.pb') for f in traces), traces


def test_the_writer_writes_tensorboard_scalars_and_hparams(tmp_path):
  """TensorBoard's own event writer and summary protos: the scalars read back through TensorBoard's reader."""
  writer = progress.Writer(str(tmp_path))
  writer.write_hparams({'learning_rate': 0.01, 'dataset': 'synthetic', 'seed': 0, 'random_flip': True})
  for step in (10, 20):
    writer.write_scalars(step, {'train/loss': 1.0 / step, 'train/top1_error': 0.5})
  writer.close()
  assert any(n.startswith('events.out.tfevents') for n in os.listdir(tmp_path))
  scalars = records.scalars(str(tmp_path))
  assert set(scalars) == {'train/loss', 'train/top1_error'}
  np.testing.assert_array_equal(scalars['train/loss'][0], [10, 20])
  np.testing.assert_allclose(scalars['train/loss'][1], [0.1, 0.05], rtol=1e-6)


def test_events_are_written_and_read_without_importing_tensorflow_where_it_is_installed(tmp_path):
  """TensorBoard's TensorFlow-free file layer is used even with TensorFlow installed: a run does not pay its import."""
  code = ('import sys\nfrom alexnet import progress\nfrom alexnet import records\n'
          f'writer = progress.Writer({str(tmp_path)!r})\nwriter.write_scalars(10, {{"train/loss": 0.5}})\n'
          f'writer.close()\nprint(records.scalars({str(tmp_path)!r})["train/loss"][1].tolist(), '
          "'tensorflow' in sys.modules)\n")
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split() == ['[0.5]', 'False']


# Hides TensorFlow as on a machine without it (not found, not importable), then runs `rest`.
WITHOUT_TENSORFLOW = """
import importlib.machinery, sys
class NoTensorFlow(importlib.machinery.PathFinder):
  @classmethod
  def find_spec(cls, name, path=None, target=None):
    if name == 'tensorflow' or name.startswith('tensorflow.'):
      return None
    return super().find_spec(name, path, target)
sys.meta_path[:] = [NoTensorFlow if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
"""


@pytest.mark.slow
def test_training_needs_no_tensorflow(tmp_path):
  """TensorFlow prepares datasets; training (the CLI: steps, checkpoints, events, summary.json) runs without it."""
  code = WITHOUT_TENSORFLOW + 'from absl import app\nfrom alexnet import main\napp.run(main.main)\n'
  result = subprocess.run([sys.executable, '-c', code, '--config=configs/smoke.py', f'--workdir={tmp_path}',
                           '--config.num_train_steps=12', '--config.checkpoint_every_steps=6',
                           '--config.eval_every_steps=6'], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "No module named 'tensorflow'" not in result.stderr
  assert json.loads((tmp_path / 'summary.json').read_text())['step'] == 12
  assert checkpoint.latest_step(str(tmp_path)) == 12
  assert len(records.scalars(str(tmp_path))['train/loss'][0]) == 2  # steps 10 and 12.


@pytest.mark.slow
def test_reading_a_prepared_tfds_dataset_needs_no_tensorflow():
  """tfds.data_source reads the prepared array_record files without TensorFlow."""
  config = default_config.get_config()
  if not os.path.isdir(os.path.join(config.data_dir or os.path.expanduser('~/tensorflow_datasets'), 'fashion_mnist')):
    pytest.skip('Fashion-MNIST is not prepared')
  code = WITHOUT_TENSORFLOW + (
      'from configs import default\nfrom alexnet import train\nconfig = default.get_config()\n'
      'config.cache_decoded = False\ndata = train.open_data(config)\n'
      'print(data.train.num_examples, data.minival.num_examples, data.test.num_examples)\n')
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split() == ['55000', '5000', '10000']
