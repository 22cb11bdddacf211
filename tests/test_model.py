"""The model: parameter counts, spatial sizes, tower connectivity, LRN, init, and mesh == single-device."""
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from alexnet import model as model_lib
from alexnet import ops
from alexnet import parallel
from alexnet import steps
from alexnet import summary
from configs import default as default_config
from configs import imagenet as imagenet_config
from configs import imagenet_fused as fused_config


def param_count(variables):
  return sum(math.prod(x.shape) for x in jax.tree.leaves(variables['params']))


def network(config, mesh=None):
  tower, head = model_lib.from_config(config)
  return parallel.Network(tower, head, config.dropout_rate, mesh)


@pytest.mark.parametrize('config_module, expected', [(imagenet_config, 60_965_224), (fused_config, 62_378_344)])
def test_parameter_totals(config_module, expected):
  config = config_module.get_config()
  variables = jax.eval_shape(lambda: network(config).init(jax.random.key(0), (227, 227, 3)))
  assert param_count(variables) == expected
  assert summary.format_table(config, summary.layer_rows(config)).endswith(f'Total params: {expected:,}')


@pytest.mark.parametrize('image_size, conv1_padding', [(227, 'VALID'), (224, '1,2')])
def test_spatial_sizes(image_size, conv1_padding):
  config = imagenet_config.get_config()
  config.image_size, config.conv1_padding = image_size, conv1_padding
  net = network(config)
  image = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  variables = jax.eval_shape(lambda: net.init(jax.random.key(0), image.shape[1:]))
  _, intermediates = jax.eval_shape(net.intermediates, variables, image)
  sizes = [intermediates[0][f'{n}_output'].shape[1] for n in ('conv1', 'pool1', 'conv2', 'pool2', 'conv3', 'conv4',
                                                              'conv5', 'pool5')]
  assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]
  assert intermediates[0]['conv1_output'].shape[-1] == 48  # 96 / 2 towers


def small_config(num_towers=2, lrn='paper', kernels='auto'):
  """The small-input variant at tiny widths: fast, same code paths."""
  config = default_config.get_config()
  config.num_towers, config.lrn, config.kernels = num_towers, lrn, kernels
  config.conv_features, config.fc_features = (8, 16, 24, 24, 16), (32, 32)
  return config


@pytest.mark.parametrize('num_towers, mesh_shape, lrn, mesh_conv_library', [
    (2, (1, 2), 'paper', 'xla'), (2, (2, 2), 'paper', 'xla'),
    pytest.param(2, (2, 1), 'paper', 'xla', marks=pytest.mark.slow),
    pytest.param(1, (4, 1), 'paper', 'xla', marks=pytest.mark.slow),
    pytest.param(4, (1, 4), 'paper', 'xla', marks=pytest.mark.slow),  # four towers, one a device
    pytest.param(2, (2, 2), 'batchnorm', 'xla', marks=pytest.mark.slow),
    pytest.param(2, (1, 2), 'batchnorm', 'xla', marks=pytest.mark.slow),
    pytest.param(2, (2, 2), 'paper', 'ynnpack', marks=pytest.mark.slow)])
def test_mesh_matches_single_device(num_towers, mesh_shape, lrn, mesh_conv_library):
  """Same loss, logits, gradients (and batch statistics) on the mesh as on one device; the one-device side always
  compiles with XLA's own CPU convolutions, so the 'ynnpack' case also checks that the libraries agree."""
  config = small_config(num_towers, lrn)
  single, mesh = network(config), network(config, parallel.make_mesh(*mesh_shape))
  variables = single.init(jax.random.key(1), (28, 28, 1))
  images = jax.random.normal(jax.random.key(2), (8, 28, 28, 1))
  labels = jnp.arange(8) % 10

  def loss_and_grads(net, conv_library):
    def loss_fn(params):
      logits, new_stats = net.apply({**variables, 'params': params}, images, train=True, rng=jax.random.key(3))
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), (logits, new_stats)
    options = steps.compiler_options(ml_collections.ConfigDict({'cpu_conv_library': conv_library}))
    return jax.jit(jax.value_and_grad(loss_fn, has_aux=True), compiler_options=options)(variables['params'])

  (loss_a, (logits_a, stats_a)), grads_a = loss_and_grads(single, 'xla')
  (loss_b, (logits_b, stats_b)), grads_b = loss_and_grads(mesh, mesh_conv_library)
  np.testing.assert_allclose(logits_b, logits_a, rtol=1e-5, atol=1e-6 * float(jnp.max(jnp.abs(logits_a))))
  np.testing.assert_allclose(loss_b, loss_a, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(grads_a), jax.tree.leaves(grads_b), strict=True):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6 * float(jnp.max(jnp.abs(a))))
  for a, b in zip(jax.tree.leaves(stats_a), jax.tree.leaves(stats_b), strict=True):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_towers_only_exchange_where_the_paper_says():
  """Changing tower 1's input to conv2 (via its conv1) leaves tower 0's conv2 alone but changes conv3 and later."""
  config = small_config()
  net = network(config)
  variables = net.init(jax.random.key(0), (28, 28, 1))
  images = jax.random.normal(jax.random.key(1), (2, 28, 28, 1))
  conv1 = variables['params']['towers']['conv1']
  changed = jax.tree.map(lambda x: x, variables)
  changed['params']['towers']['conv1'] = {**conv1, 'kernel': conv1['kernel'].at[1].multiply(1.5)}
  _, before = net.intermediates(variables, images)
  _, after = net.intermediates(changed, images)
  for layer in ('conv1', 'norm1', 'pool1', 'conv2', 'norm2', 'pool2'):
    np.testing.assert_array_equal(after[0][f'{layer}_output'], before[0][f'{layer}_output'])
  assert not np.allclose(after[1]['conv2_output'], before[1]['conv2_output'])
  for layer in ('conv3', 'conv4', 'conv5', 'fc6', 'fc7'):
    assert not np.allclose(after[0][f'{layer}_output'], before[0][f'{layer}_output']), layer


def lrn_numpy(a, k, alpha, n, beta):
  """Section 3.3, written as the paper's sum over j from max(0, i - n/2) to min(N - 1, i + n/2)."""
  b = np.empty_like(a)
  channels = a.shape[-1]
  for i in range(channels):
    lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
    b[..., i] = a[..., i] / (k + alpha * np.sum(a[..., lo:hi + 1] ** 2, axis=-1)) ** beta
  return b


def test_lrn_matches_the_paper_and_caffe_formulas():
  a = np.abs(np.random.default_rng(0).normal(0, 30, (2, 3, 3, 12))).astype(np.float32)
  paper = ops.local_response_norm(jnp.asarray(a), size=5, k=2.0, alpha=1e-4, beta=0.75)
  np.testing.assert_allclose(paper, lrn_numpy(a, 2.0, 1e-4, 5, 0.75), rtol=1e-5)
  caffe = ops.local_response_norm(jnp.asarray(a), size=5, k=1.0, alpha=1e-4 / 5, beta=0.75)
  np.testing.assert_allclose(caffe, lrn_numpy(a, 1.0, 1e-4 / 5, 5, 0.75), rtol=1e-5)
  assert not np.allclose(paper, caffe)
  # The tower's 'paper' and 'caffe' settings use exactly these constants.
  tower = model_lib.Tower(num_towers=1, conv_features=(12, 12, 12, 12, 12), lrn='caffe')
  out = tower.apply({}, 0, jnp.asarray(a), False, method=model_lib.Tower._norm)
  np.testing.assert_allclose(out, caffe, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize('scheme, override, positive_bias', [('paper', -1.0, 1.0), ('caffe', -1.0, 0.1),
                                                             ('paper', 0.1, 0.1)])
def test_init_statistics(scheme, override, positive_bias):
  config = imagenet_config.get_config()
  config.init, config.positive_bias = scheme, override
  variables = network(config).init(jax.random.key(0), (227, 227, 3))
  towers, head = variables['params']['towers'], variables['params']['head']
  for layer in ('conv2', 'conv3', 'fc6', 'fc7'):
    assert abs(float(jnp.std(towers[layer]['kernel'])) - 0.01) < 2e-4, layer
    assert abs(float(jnp.mean(towers[layer]['kernel']))) < 2e-4, layer
  for layer in ('conv2', 'conv4', 'conv5', 'fc6', 'fc7'):
    assert np.all(np.asarray(towers[layer]['bias']) == np.float32(positive_bias)), layer
  for bias in (towers['conv1']['bias'], towers['conv3']['bias'], head['fc8']['bias']):
    assert np.all(np.asarray(bias) == 0.0)
  # The two towers start from different draws.
  assert not np.allclose(towers['conv1']['kernel'][0], towers['conv1']['kernel'][1])


@pytest.mark.slow
def test_he_init_scales_with_fan_in():
  config = imagenet_config.get_config()
  config.init = 'he'
  towers = network(config).init(jax.random.key(0), (227, 227, 3))['params']['towers']
  kernel = towers['conv3']['kernel']  # fan_in = 3 * 3 * 256
  assert abs(float(jnp.std(kernel)) - math.sqrt(2 / (3 * 3 * 256))) < 2e-3
  assert np.all(np.asarray(towers['conv2']['bias']) == 0.0)
  config.positive_bias = 1.0  # the paper's biases on He-scaled weights (the init ablation).
  towers = network(config).init(jax.random.key(0), (227, 227, 3))['params']['towers']
  assert np.all(np.asarray(towers['fc7']['bias']) == 1.0) and np.all(np.asarray(towers['conv3']['bias']) == 0.0)


def test_paper_scaled_init_keeps_the_papers_gain_per_layer():
  # sigma_l = 0.01 sqrt(F_paper / F_l): the small net's fan-ins are 25, 400, 576, 432, 432, 1024, 512, 512.
  config = default_config.get_config()
  config.init = 'paper_scaled'
  variables = network(config).init(jax.random.key(0), (28, 28, 1))
  kernels = {**{k: v['kernel'] for k, v in variables['params']['towers'].items()},
             'fc8': variables['params']['head']['fc8']['kernel']}
  fan_ins = {'conv1': 25, 'conv2': 400, 'conv3': 576, 'conv4': 432, 'conv5': 432, 'fc6': 1024, 'fc7': 512, 'fc8': 512}
  paper = {'conv1': 363, 'conv2': 1200, 'conv3': 2304, 'conv4': 1728, 'conv5': 1728, 'fc6': 9216, 'fc7': 4096,
           'fc8': 4096}
  for layer, kernel in kernels.items():
    fan_in = math.prod(kernel.shape[-4 if layer.startswith('conv') else -2:-1])
    assert fan_in == fan_ins[layer], layer
    expected = 0.01 * math.sqrt(paper[layer] / fan_in)
    assert model_lib.init_std('paper_scaled', layer, fan_in) == pytest.approx(expected, rel=1e-12)
    # The sample's std within 4 standard errors of the formula (se of a std: sigma / sqrt(2 N)).
    assert float(jnp.std(kernel)) == pytest.approx(expected, rel=4 / math.sqrt(2 * kernel.size)), layer
  for layer in ('conv2', 'conv4', 'conv5', 'fc6', 'fc7'):
    assert np.all(np.asarray(variables['params']['towers'][layer]['bias']) == 1.0), layer
  # At the paper's own fan-ins the scaled init is the paper's, draw for draw.
  shapes = {'conv1': (11, 11, 3, 48), 'conv2': (5, 5, 48, 128), 'conv3': (3, 3, 256, 192), 'conv4': (3, 3, 192, 192),
            'conv5': (3, 3, 192, 128), 'fc8': (4096, 1000)}
  for layer, shape in shapes.items():
    key = jax.random.key(3)
    np.testing.assert_array_equal(model_lib.kernel_init('paper_scaled', layer)(key, shape),
                                  model_lib.kernel_init('paper', layer)(key, shape))


def test_bad_widths_and_meshes_raise_clear_errors():
  config = small_config(num_towers=3)
  with pytest.raises(ValueError, match='not divisible by num_towers=3'):
    network(config).init(jax.random.key(0), (28, 28, 1))
  config = small_config(num_towers=2)
  with pytest.raises(ValueError, match='num_towers=2 is not divisible by the tower axis'):
    network(config, parallel.make_mesh(1, 4))
  with pytest.raises(ValueError, match='needs 8 devices'):
    parallel.make_mesh(2, 4)


@pytest.mark.slow
def test_the_cpu_and_generic_kernels_compute_the_same_net():
  """kernels='cpu' (strided-slice pooling, exp-log LRN with its own gradient) and 'generic' (the library forms, what
  an accelerator runs under 'auto'): the same logits and gradients."""
  def loss_and_grads(kernels):
    config = small_config(kernels=kernels)
    net = network(config)
    variables = net.init(jax.random.key(0), (28, 28, 1))
    images = jax.random.normal(jax.random.key(1), (4, 28, 28, 1)) * 50
    loss = lambda p: jnp.sum(net.apply({**variables, 'params': p}, images)[0] ** 2)
    return jax.value_and_grad(loss)(variables['params'])
  (loss_cpu, grads_cpu), (loss_generic, grads_generic) = loss_and_grads('cpu'), loss_and_grads('generic')
  np.testing.assert_allclose(loss_cpu, loss_generic, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(grads_cpu), jax.tree.leaves(grads_generic), strict=True):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5 * float(np.abs(a).max()))
