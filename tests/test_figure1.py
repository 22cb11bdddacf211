"""Figure 1's four-layer net and its training program (experiments/figure1.py)."""
import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alexnet import provenance
from alexnet import records
from alexnet import run_summary
from configs import figure1 as figure1_config
from experiments.figures import figure1

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_net_has_four_weight_layers_and_its_parameter_count():
  model = figure1.FourLayerNet()
  params = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))['params']
  assert list(params) == ['conv1', 'conv2', 'conv3', 'fc4']
  # conv1 5*5*1*32 + 32, conv2 5*5*32*32 + 32, conv3 5*5*32*64 + 64, fc4 (4*4*64)*10 + 10: 28 -> 14 -> 7 -> 4.
  counts = {name: sum(a.size for a in jax.tree.leaves(p)) for name, p in params.items()}
  assert counts == {'conv1': 832, 'conv2': 25_632, 'conv3': 51_264, 'fc4': 10_250}
  assert model.apply({'params': params}, jnp.zeros((3, 28, 28, 1))).shape == (3, 10)


def test_both_units_start_from_the_same_weights_with_std_one_over_root_fan_in():
  x = jnp.zeros((1, 28, 28, 1))
  relu = figure1.FourLayerNet(activation='relu').init(jax.random.key(1), x)['params']
  tanh = figure1.FourLayerNet(activation='tanh').init(jax.random.key(1), x)['params']
  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(relu), jax.tree.leaves(tanh)))
  for name, fan_in in (('conv2', 5 * 5 * 32), ('conv3', 5 * 5 * 32), ('fc4', 4 * 4 * 64)):
    kernel = np.asarray(relu[name]['kernel'])
    assert kernel.std() == pytest.approx(1 / math.sqrt(fan_in), rel=0.03)
    assert not np.asarray(relu[name]['bias']).any()


def test_the_papers_kind_of_init_is_a_fixed_std_for_every_layer():
  params = figure1.FourLayerNet(weight_init='fixed', init_std=0.01).init(jax.random.key(1), jnp.zeros((1, 28, 28, 1)))
  for name in ('conv2', 'conv3', 'fc4'):
    assert np.asarray(params['params'][name]['kernel']).std() == pytest.approx(0.01, rel=0.03)


def test_pass_steps_are_log_spaced_with_the_last_step():
  steps = figure1.pass_steps(2145, 20)
  assert steps[:12] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13] and steps[-3:] == [1778, 1995, 2145]
  assert 1000 in steps and 100 in steps and len(steps) == 57
  # Beyond the first decade consecutive measurements are 10^(1/20) = 1.12 apart: a ratio's resolution.
  ratios = np.array(steps[30:-1]) / np.array(steps[29:-2])
  np.testing.assert_allclose(ratios, 10 ** 0.05, rtol=0.01)
  assert figure1.pass_steps(1, 20) == [1]


def test_the_units_are_relu_and_tanh():
  x = jnp.array([-2.0, 0.5])
  np.testing.assert_array_equal(figure1.UNITS['relu'](x), [0.0, 0.5])
  np.testing.assert_allclose(figure1.UNITS['tanh'](x), np.tanh([-2.0, 0.5]), rtol=1e-6)


def test_trailing_mean():
  np.testing.assert_allclose(figure1.trailing_mean(np.array([1.0, 0.0, 0.0, 1.0, 1.0]), 2), [1, 0.5, 0, 0.5, 1])
  np.testing.assert_allclose(figure1.trailing_mean(np.array([0.3, 0.1]), 20), [0.3, 0.2])


def test_batch_order_is_a_new_permutation_each_epoch():
  order = figure1.batch_order(10, 3, 7, seed=0)  # 3 batches an epoch (the 10th example dropped), 7 steps.
  assert order.shape == (7, 3)
  for epoch in (order[:3], order[3:6]):
    assert len(set(epoch.ravel())) == 9
  assert not np.array_equal(order[:3], order[3:6])
  np.testing.assert_array_equal(order, figure1.batch_order(10, 3, 7, seed=0))
  with pytest.raises(ValueError, match='exceeds'):
    figure1.batch_order(10, 11, 1, seed=0)


@pytest.mark.parametrize('field, value, message', [('activation', 'sigmoid', 'expected one of'),
                                                   ('init', 'he', 'expected one of'),
                                                   ('train_error', 'mean', 'expected one of'),
                                                   ('num_steps', 0, 'at least 1'),
                                                   ('pass_examples', 0, 'at least 1'),
                                                   ('learning_rate', 0.0, 'positive'),
                                                   ('init_std', -1.0, 'positive')])
def test_a_bad_config_is_named(field, value, message):
  config = figure1_config.get_config()
  config[field] = value
  with pytest.raises(ValueError, match=message):
    figure1.validate(config)


@pytest.mark.slow
def test_a_run_logs_the_training_error_every_step_and_writes_its_summary(tmp_path):
  config = figure1_config.get_config()
  config.dataset, config.minival_examples, config.num_steps = 'synthetic', 128, 30
  config.log_every_steps, config.train_error_window, config.learning_rate = 10, 5, 0.01
  summary = figure1.train(config, str(tmp_path))
  assert summary['step'] == 30 and summary['diverged_at_step'] is None
  assert summary['epoch'] == pytest.approx(30 * 128 / (1024 - 128))
  assert 0 <= summary['top1_error'] <= 1 and 0 <= summary['minival_top1_error'] <= 1
  assert summary == json.loads((tmp_path / 'summary.json').read_text())
  assert list(summary)[:len(run_summary.FIELDS)] == list(run_summary.FIELDS)  # the same schema as alexnet.train's
  assert summary['config_name'] == 'figure1' and summary['commit'] == provenance.code_version()['commit']
  steps, smoothed = records.train_curve(str(tmp_path))
  batch = records.scalars(str(tmp_path))['train/batch_top1_error'][1]
  np.testing.assert_array_equal(steps, np.arange(1, 31))
  np.testing.assert_allclose(smoothed, figure1.trailing_mean(batch, 5), rtol=1e-6)
  assert summary['train_top1_error_end'] == pytest.approx(smoothed[-1], rel=1e-6)
  assert json.loads((tmp_path / 'config.json').read_text())['activation'] == 'relu'


@pytest.mark.slow
def test_a_pass_run_measures_the_error_on_fixed_training_images_at_log_spaced_steps(tmp_path):
  config = figure1_config.get_config()
  config.dataset, config.minival_examples, config.num_steps = 'synthetic', 128, 30
  config.train_error, config.pass_examples, config.pass_points_per_decade = 'pass', 500, 10
  config.init, config.standardise, config.learning_rate, config.log_every_steps = 'fixed', False, 1e-4, 10
  summary = figure1.train(config, str(tmp_path))
  steps, measured = records.train_curve(str(tmp_path))
  np.testing.assert_array_equal(steps, figure1.pass_steps(30, 10))  # 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30
  # Each a share of the same 500 images; the trailing window beside it at every step.
  np.testing.assert_allclose(measured * 500, np.round(measured * 500), atol=1e-3)
  assert summary['train_top1_error_end'] == pytest.approx(measured[-1])
  window_steps, _ = records.scalars(str(tmp_path))['train/window_top1_error']
  np.testing.assert_array_equal(window_steps, np.arange(1, 31))


@pytest.mark.slow
def test_a_diverging_pass_run_is_measured_on_finite_parameters_only(tmp_path):
  config = figure1_config.get_config()
  config.dataset, config.minival_examples, config.num_steps = 'synthetic', 128, 40
  config.train_error, config.pass_examples, config.pass_points_per_decade = 'pass', 256, 20
  config.learning_rate, config.log_every_steps = 1e6, 40  # diverges within a few steps; the loss is read at 40.
  summary = figure1.train(config, str(tmp_path))
  steps, measured = records.train_curve(str(tmp_path))
  assert summary['diverged_at_step'] is not None and len(steps) and steps.max() < summary['diverged_at_step']
  assert np.isfinite(measured).all() and summary['train_top1_error_end'] == pytest.approx(measured[-1])
  assert set(records.scalars(str(tmp_path))['train/window_top1_error'][0]) == set(range(1, summary['step'] + 1))


@pytest.mark.slow
def test_the_command_line_ends_a_diverging_run_where_the_loss_stops_being_finite(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.figure1', '--config=configs/figure1.py', f'--workdir={tmp_path}',
       '--config.dataset=synthetic', '--config.minival_examples=128', '--config.num_steps=40',
       '--config.log_every_steps=5', '--config.learning_rate=1e6'],
      cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.loads((tmp_path / 'summary.json').read_text())
  assert summary['diverged_at_step'] is not None and summary['step'] == summary['diverged_at_step'] < 40
  assert f"{summary['step']} steps: minival top-1 error" in result.stdout
