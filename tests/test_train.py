"""The paper's update rule, the plateau schedule, the CLI end to end, and exact resume."""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from alexnet import optim
from alexnet import train
from configs import imagenet as imagenet_config
from configs import smoke as smoke_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
      opt_state = optim.set_learning_rate(opt_state, lr)
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
  state = optim.set_learning_rate(state, 0.001)
  updates, _ = tx.update({'w': jnp.ones(())}, state, params)
  np.testing.assert_allclose(updates['w'], 0.9 * -0.01 - 0.001, rtol=1e-6)


def test_plateau_schedule_follows_a_scripted_error_sequence():
  config = imagenet_config.get_config()
  config.plateau_patience, config.plateau_threshold, config.plateau_max_drops = 2, 0.01, 3
  params = {'w': jnp.zeros((2,))}
  tx = optim.make_optimizer(config, steps_per_epoch=10)
  state = train.TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=None, opt_state=tx.init(params),
                           plateau=optim.init_plateau(optim.plateau_rule(config)))
  errors = [0.5, 0.4, 0.395, 0.40, 0.30, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
  expected = [1e-2, 1e-2, 1e-2, 1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5, 1e-5, 1e-5, 1e-5, 1e-5]
  rates = []
  for error in errors:
    state = train.apply_plateau(state, error, config)
    rates.append(float(optim.current_learning_rate(state.opt_state)))
  np.testing.assert_allclose(rates, expected, rtol=1e-5)


def test_main_cli_smoke_end_to_end(tmp_path):
  workdir = tmp_path / 'smoke'
  result = subprocess.run([sys.executable, '-m', 'alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.loads((workdir / 'summary.json').read_text())
  assert {'top1_error', 'top5_error', 'step', 'epoch', 'train_images_per_sec', 'config_name'} <= set(summary)
  assert summary['config_name'] == 'smoke' and summary['step'] == 128 and summary['epoch'] == 4.0
  history = summary['eval_history']
  assert history[-1]['loss'] < np.log(4) - 0.3      # below chance-level cross-entropy for 4 classes
  assert summary['top1_error'] < 0.5                # chance is 0.75
  assert history[-1]['loss'] < history[0]['loss']
  assert (workdir / 'config.json').exists() and any(n.startswith('events.out') for n in os.listdir(workdir))
  assert 'ETA' in result.stderr and 'img/s' in result.stderr


def latest_checkpoint(workdir):
  manager = ocp.CheckpointManager(os.path.join(workdir, 'checkpoints'))
  return manager.latest_step(), manager.restore(manager.latest_step())


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
  for a, b in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(a, b)
  for key in ('top1_error', 'top5_error', 'eval_loss', 'step'):
    assert resumed[key] == straight[key], key
  assert resumed['eval_history'] == straight['eval_history'][1:]


def test_cpu_conv_library_sets_the_compiler_option():
  config = imagenet_config.get_config()
  assert config.cpu_conv_library == 'xla'
  assert train.compiler_options(config) == {
      'xla_cpu_experimental_ynn_fusion_type': 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}  # tests run on CPU.
  config.cpu_conv_library = 'ynnpack'
  assert train.compiler_options(config) is None
  config.cpu_conv_library = 'onednn'
  with pytest.raises(ValueError, match='cpu_conv_library'):
    train.compiler_options(config)
