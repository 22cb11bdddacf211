"""Imported weights against an independent forward pass of the original definition: Caffe's bvlc_alexnet layout in
NumPy (grouped convolutions, LRN across the blob's channels, ceil-mode pooling, (C, H, W) flattening, BGR input) and
torchvision's alexnet run by torchvision itself. Weight files hold random values, written through Caffe's schema."""
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from alexnet import caffe_proto
from alexnet import checkpoint
from alexnet import import_weights
from alexnet import model as model_lib
from alexnet import parallel

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A narrow bvlc_alexnet: the real layer structure (kernels, strides, pads, groups 1-2-1-2-2) at small widths.
WIDTHS, FC, CLASSES = (16, 32, 24, 24, 16), 32, 10


# ------------------------------------------------------------------------------- Caffe's net, in NumPy (float64)

def caffe_conv(x, weight, bias, stride, pad, groups):
  """Caffe's Convolution: x [N, C, H, W], weight [out, C/groups, k, k], cross-correlation, zero padding."""
  x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
  k = weight.shape[-1]
  windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
  out, cin = weight.shape[0] // groups, weight.shape[1]
  parts = [np.einsum('nchwij,ocij->nohw', windows[:, g * cin:(g + 1) * cin], weight[g * out:(g + 1) * out])
           for g in range(groups)]
  return np.concatenate(parts, axis=1) + bias[None, :, None, None]


def caffe_lrn(x, size=5, alpha=1e-4, beta=0.75, k=1.0):
  """Caffe's LRN (ACROSS_CHANNELS): x / (k + alpha/size * sum of squares over `size` channels around)^beta."""
  squares = np.pad(np.square(x), ((0, 0), (size // 2, size // 2), (0, 0), (0, 0)))
  window = sum(squares[:, i:i + x.shape[1]] for i in range(size))
  return x / (k + alpha / size * window) ** beta


def caffe_max_pool(x, k=3, s=2):
  """Caffe's MAX pooling: output size ceil((H - k) / s) + 1."""
  h = -(-(x.shape[2] - k) // s) + 1
  w = -(-(x.shape[3] - k) // s) + 1
  padded = np.pad(x, ((0, 0), (0, 0), (0, (h - 1) * s + k - x.shape[2]), (0, (w - 1) * s + k - x.shape[3])),
                  constant_values=-np.inf)
  windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]
  return windows.max(axis=(-1, -2))


def caffe_forward(blobs, bgr, lrn_groups=1):
  """bvlc_alexnet's deploy.prototxt on mean-subtracted BGR images [N, 3, 227, 227]; `lrn_groups`=2 normalises each
  group's channels apart (as the two towers do) instead of across the whole blob (Caffe)."""
  relu = lambda v: np.maximum(v, 0)
  lrn = lambda v: np.concatenate([caffe_lrn(p) for p in np.split(v, lrn_groups, axis=1)], axis=1)
  b = {n: [a.astype(np.float64) for a in v] for n, v in blobs.items()}
  x = caffe_max_pool(lrn(relu(caffe_conv(bgr, *b['conv1'], 4, 0, 1))))
  x = caffe_max_pool(lrn(relu(caffe_conv(x, *b['conv2'], 1, 2, 2))))
  x = relu(caffe_conv(x, *b['conv3'], 1, 1, 1))
  x = relu(caffe_conv(x, *b['conv4'], 1, 1, 2))
  x = caffe_max_pool(relu(caffe_conv(x, *b['conv5'], 1, 1, 2)))
  x = x.reshape(x.shape[0], -1)  # (C, H, W)
  x = relu(x @ b['fc6'][0].T + b['fc6'][1])
  x = relu(x @ b['fc7'][0].T + b['fc7'][1])
  return x @ b['fc8'][0].T + b['fc8'][1]


def random_caffe_blobs(seed=0, widths=WIDTHS, fc=FC, classes=CLASSES):
  """bvlc_alexnet-shaped blobs (out, in/groups, k, k) with random weights at He scale (conv1 larger, so that LRN's
  denominators move well away from 1) and random biases."""
  rng = np.random.default_rng(seed)
  blobs, cin = {}, 3
  for name, out, k, g in zip(import_weights.CONVS, widths, import_weights.CAFFE_KERNELS, (1, 2, 1, 2, 2), strict=True):
    fan_in = cin // g * k * k
    scale = 0.05 if name == 'conv1' else np.sqrt(2.0 / fan_in)
    blobs[name] = [rng.normal(0, scale, (out, cin // g, k, k)), rng.normal(0, 0.1, out)]
    cin = out
  for name, fin, out in (('fc6', cin * 36, fc), ('fc7', fc, fc), ('fc8', fc, classes)):
    blobs[name] = [rng.normal(0, np.sqrt(2.0 / fin), (out, fin)), rng.normal(0, 0.1, out)]
  return {n: [a.astype(np.float32) for a in v] for n, v in blobs.items()}


def write_caffemodel(path, blobs, v1=False, name='AlexNet'):
  layers = [caffe_proto.Layer(n, 'Convolution' if n.startswith('conv') else 'InnerProduct', blobs[n])
            for n in import_weights.CONVS + import_weights.FCS]
  if v1:  # V1 files store InnerProduct weights as 4-D blobs (1, 1, out, in).
    layers = [caffe_proto.Layer(l.name, l.type, [b.reshape(1, 1, *b.shape) if b.ndim == 2 else b for b in l.blobs])
              for l in layers]
  with open(path, 'wb') as f:
    f.write(caffe_proto.serialize_net(name, layers, v1=v1))


def logits_of(workdir, rgb):
  """The imported net's logits on mean-subtracted RGB images [N, H, W, 3], from its checkpoint and config."""
  from alexnet import evaluate  # pylint: disable=g-import-not-at-top
  config = evaluate.load_config(workdir)
  params = checkpoint.restore_state(workdir)[0]['params']
  tower, head = model_lib.from_config(config)
  logits, _ = parallel.Network(tower, head, 0.0).apply({'params': params}, rgb)
  return np.asarray(logits)


@pytest.fixture(scope='module')
def images():
  return np.random.default_rng(1).uniform(-120, 120, (2, 227, 227, 3)).astype(np.float32)


@pytest.fixture(scope='module')
def blobs():
  return random_caffe_blobs()


def assert_parity(ours, reference):
  np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())


# ------------------------------------------------------------------------------------------------------- Caffe

def test_schema_reads_both_layer_formats_and_legacy_blobs(tmp_path, blobs):
  for v1 in (False, True):
    path = tmp_path / f'v1_{v1}.caffemodel'
    write_caffemodel(path, blobs, v1=v1)
    read = import_weights.read_caffemodel(str(path))
    for n in blobs:
      assert [b.shape for b in read[n]] == [b.shape for b in blobs[n]]
      np.testing.assert_array_equal(read[n][0], blobs[n][0])


@pytest.mark.parametrize('v1', [False, True])
def test_fused_import_is_caffes_forward_pass(tmp_path, blobs, images, v1):
  """One fused tower, grouped kernels block-diagonal, LRN across all channels: Caffe's net to float precision."""
  write_caffemodel(tmp_path / 'net.caffemodel', blobs, v1=v1)
  import_weights.import_caffe(str(tmp_path / 'net.caffemodel'), str(tmp_path / 'run'), num_towers=1)
  reference = caffe_forward(blobs, images[..., ::-1].transpose(0, 3, 1, 2))
  assert_parity(logits_of(tmp_path / 'run', images), reference)


def test_two_tower_import_is_caffes_groups_on_the_towers(tmp_path, blobs, images):
  """Two towers: every layer as in Caffe's net, except that LRN's window stays inside each group's channels (as on
  the paper's GPUs); Caffe's own LRN spans the boundary, which moves the logits."""
  write_caffemodel(tmp_path / 'net.caffemodel', blobs)
  config = import_weights.import_caffe(str(tmp_path / 'net.caffemodel'), str(tmp_path / 'run'))
  assert (config.num_towers, config.lrn, tuple(config.conv_features)) == (2, 'caffe', WIDTHS)
  bgr = images[..., ::-1].transpose(0, 3, 1, 2)
  ours = logits_of(tmp_path / 'run', images)
  assert_parity(ours, caffe_forward(blobs, bgr, lrn_groups=2))
  caffe = caffe_forward(blobs, bgr)
  assert np.abs(ours - caffe).max() > 1e-3 * np.abs(caffe).max()


def test_a_swapped_colour_order_or_a_transposed_flattening_fails_parity(tmp_path, blobs, images):
  write_caffemodel(tmp_path / 'net.caffemodel', blobs)
  import_weights.import_caffe(str(tmp_path / 'net.caffemodel'), str(tmp_path / 'run'), num_towers=1)
  config = import_weights.caffe_config(blobs, 1)
  params = checkpoint.restore_state(tmp_path / 'run')[0]['params']
  reference = caffe_forward(blobs, images[..., ::-1].transpose(0, 3, 1, 2))
  tower, head = model_lib.from_config(config)
  net = parallel.Network(tower, head, 0.0)
  bgr_kernel = jax.tree.map(np.copy, params)
  bgr_kernel['towers']['conv1']['kernel'] = params['towers']['conv1']['kernel'][..., ::-1, :]
  chw = jax.tree.map(np.copy, params)  # fc6's rows in Caffe's (C, H, W) order, as if not reordered.
  chw['towers']['fc6']['kernel'][0] = blobs['fc6'][0].T
  assert not np.allclose(params['towers']['fc6']['kernel'][0], blobs['fc6'][0].T)
  for wrong in (bgr_kernel, chw):
    logits = np.asarray(net.apply({'params': wrong}, images)[0])
    with pytest.raises(AssertionError):
      assert_parity(logits, reference)


def test_the_caffe_mean_file_becomes_the_pixel_mean(tmp_path, blobs):
  write_caffemodel(tmp_path / 'net.caffemodel', blobs)
  mean_bgr = np.random.default_rng(2).uniform(90, 130, (1, 3, 256, 256)).astype(np.float32)
  (tmp_path / 'mean.binaryproto').write_bytes(caffe_proto.to_blob(mean_bgr, legacy_4d=True).SerializeToString())
  config = import_weights.import_caffe(str(tmp_path / 'net.caffemodel'), str(tmp_path / 'run'),
                                       mean_file=str(tmp_path / 'mean.binaryproto'))
  stats = np.load(tmp_path / 'run' / 'stats.npz')
  assert config.mean_subtraction == 'pixel'
  np.testing.assert_array_equal(stats['mean_image'], mean_bgr[0].transpose(1, 2, 0)[..., ::-1])


def test_the_full_size_net_maps_onto_configs_imagenet():
  """bvlc_alexnet's real shapes import into configs/imagenet.py's net: 60,965,224 parameters."""
  shapes = {'conv1': (96, 3, 11, 11), 'conv2': (256, 48, 5, 5), 'conv3': (384, 256, 3, 3), 'conv4': (384, 192, 3, 3),
            'conv5': (256, 192, 3, 3), 'fc6': (4096, 9216), 'fc7': (4096, 4096), 'fc8': (1000, 4096)}
  blobs = {n: [np.zeros(s, np.float32), np.zeros(s[0], np.float32)] for n, s in shapes.items()}
  config = import_weights.caffe_config(blobs, 2)
  params = import_weights.caffe_params(blobs, 2)
  import_weights.check_shapes(config, params, 'bvlc_alexnet')
  assert sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params)) == 60_965_224


# ------------------------------------------------------------------------------------------------- torchvision

# torchvision itself, in the interpreter that has it (Debian's python3-torchvision for the system Python): a random
# alexnet's state_dict, its parameter count and its logits on fixed images; and a resnet-like state_dict.
TORCHVISION_SCRIPT = """
import sys
import numpy as np, torch, torchvision
out = sys.argv[1]
torch.manual_seed(0)
net = torchvision.models.alexnet().eval()
torch.save(net.state_dict(), out + '/alexnet.pth')
pixels = np.random.default_rng(3).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
with torch.no_grad():
  x = torch.from_numpy(((pixels / 255 - mean) / std).transpose(0, 3, 1, 2).astype(np.float32))
  np.save(out + '/logits.npy', net(x).double().numpy())
np.save(out + '/pixels.npy', pixels)
torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7), 'bn1.weight': torch.zeros(64)}, out + '/resnet.pth')
print(torchvision.__version__, torch.__version__, sum(p.numel() for p in net.parameters()))
"""
SYSTEM_PYTHON = '/usr/bin/python3'  # Debian's, where apt-get install python3-torchvision puts torchvision.


@pytest.fixture(scope='module')
def torchvision_files(tmp_path_factory):
  """(folder of torchvision's files, its version line), or a skip where no interpreter has torchvision; in CI
  (.ci/run installs Debian's python3-torchvision) the test fails instead."""
  has = os.path.exists(SYSTEM_PYTHON) and subprocess.run([SYSTEM_PYTHON, '-c', 'import torchvision'],
                                                         capture_output=True).returncode == 0
  if not has:
    message = f'{SYSTEM_PYTHON} has no torchvision (apt-get install python3-torchvision)'
    if os.environ.get('CI') == 'true':
      pytest.fail(message)
    pytest.skip(message)
  out = tmp_path_factory.mktemp('torchvision')
  made = subprocess.run([SYSTEM_PYTHON, '-c', TORCHVISION_SCRIPT, str(out)], capture_output=True, text=True,
                        timeout=600, env={'PATH': os.environ.get('PATH', '')})
  assert made.returncode == 0, made.stderr[-3000:]
  return out, made.stdout.split()


@pytest.mark.slow
def test_torchvision_import_is_torchvisions_forward_pass(torchvision_files, tmp_path):
  """torchvision.models.alexnet(), run by torchvision in its own interpreter: its state_dict (read here without torch)
  imports into configs/torchvision.py's net, which gives torchvision's logits."""
  files, (_, _, count) = torchvision_files
  assert int(count) == 61_100_840
  import_weights.import_torchvision(str(files / 'alexnet.pth'), str(tmp_path / 'run'))
  params = checkpoint.restore_state(str(tmp_path / 'run'))[0]['params']
  assert sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params)) == 61_100_840
  pixels, mean = np.load(files / 'pixels.npy'), np.asarray(import_weights.TORCH_MEAN)
  ours = logits_of(tmp_path / 'run', pixels - 255 * mean.astype(np.float32))
  assert_parity(ours, np.load(files / 'logits.npy'))


@pytest.mark.slow
def test_a_resnet_state_dict_is_refused(torchvision_files, tmp_path):
  files, _ = torchvision_files
  with pytest.raises(import_weights.WeightsError, match="is not torchvision's alexnet: expected keys features.0"):
    import_weights.import_torchvision(str(files / 'resnet.pth'), str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_a_file_that_is_not_a_state_dict_is_one_line(tmp_path):
  (tmp_path / 'notes.pth').write_text('not a checkpoint')
  with pytest.raises(import_weights.WeightsError, match=r'not a readable PyTorch state_dict \(not a zip archive'):
    import_weights.import_torchvision(str(tmp_path / 'notes.pth'), str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


# ------------------------------------------------------------------------------------------------- bad input

def test_bad_weight_files_are_one_line_naming_the_file(tmp_path, blobs):
  write_caffemodel(tmp_path / 'net.caffemodel', blobs)
  data = (tmp_path / 'net.caffemodel').read_bytes()
  (tmp_path / 'truncated.caffemodel').write_bytes(data[:len(data) // 2])
  vgg = {f'conv{i}_{j}': [np.zeros((4, 3, 3, 3), np.float32), np.zeros(4, np.float32)] for i in (1, 2) for j in (1, 2)}
  (tmp_path / 'vgg.caffemodel').write_bytes(caffe_proto.serialize_net(
      'VGG', [caffe_proto.Layer(n, 'Convolution', b) for n, b in vgg.items()]))
  cases = {'missing.caffemodel': 'no such file', 'truncated.caffemodel': 'truncated',
           'vgg.caffemodel': 'is not AlexNet: expected weights and biases of conv1'}
  for name, words in cases.items():
    with pytest.raises(import_weights.WeightsError, match=words) as e:
      import_weights.import_caffe(str(tmp_path / name), str(tmp_path / 'run'))
    assert str(tmp_path / name) in str(e.value) and '\n' not in str(e.value)
  assert not (tmp_path / 'run').exists()


@pytest.mark.slow
def test_cli_imports_and_refuses_in_one_line(tmp_path, blobs):
  write_caffemodel(tmp_path / 'net.caffemodel', blobs)
  cmd = [sys.executable, '-m', 'alexnet.import_weights', f'--workdir={tmp_path / "run"}']
  ok = subprocess.run(cmd + [f'--caffemodel={tmp_path / "net.caffemodel"}'], cwd=REPO, capture_output=True, text=True)
  assert ok.returncode == 0, ok.stderr[-2000:]
  assert (tmp_path / 'run' / 'checkpoints' / '0').is_dir() and (tmp_path / 'run' / 'stats.npz').exists()
  bad = subprocess.run([sys.executable, '-m', 'alexnet.import_weights', f'--workdir={tmp_path / "other"}',
                        f'--caffemodel={tmp_path / "nothing.caffemodel"}'], cwd=REPO, capture_output=True, text=True)
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1].startswith(f'error: {tmp_path / "nothing.caffemodel"}: no such file')
  assert not (tmp_path / 'other').exists()


class _RunsCode:
  def __reduce__(self):
    return (os.system, ('echo this must not run',))


def test_a_state_dict_file_that_would_run_code_is_refused(tmp_path):
  """The reader resolves only what a state_dict holds: a pickled call to os.system is refused, not made."""
  import pickle  # pylint: disable=g-import-not-at-top
  import zipfile  # pylint: disable=g-import-not-at-top
  with zipfile.ZipFile(tmp_path / 'evil.pth', 'w') as archive:
    archive.writestr('archive/data.pkl', pickle.dumps({'features.0.weight': _RunsCode()}, protocol=2))
  with pytest.raises(import_weights.WeightsError, match=r'system is not part of a state_dict'):
    import_weights.import_torchvision(str(tmp_path / 'evil.pth'), str(tmp_path / 'run'))


def test_a_tensor_that_does_not_fit_its_storage_is_refused(tmp_path, monkeypatch):
  """A state_dict whose tensor claims more elements than its storage holds is refused, not read past the end."""
  import collections  # pylint: disable=g-import-not-at-top
  import io  # pylint: disable=g-import-not-at-top
  import pickle  # pylint: disable=g-import-not-at-top
  import types  # pylint: disable=g-import-not-at-top
  import zipfile  # pylint: disable=g-import-not-at-top
  torch, utils = types.ModuleType('torch'), types.ModuleType('torch._utils')
  storage_type = type('FloatStorage', (), {'__module__': 'torch'})
  torch.FloatStorage, torch._utils = storage_type, utils  # pylint: disable=protected-access
  def _rebuild_tensor_v2(*args):
    return args
  _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = 'torch._utils', '_rebuild_tensor_v2'
  utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # pylint: disable=protected-access
  monkeypatch.setitem(sys.modules, 'torch', torch)
  monkeypatch.setitem(sys.modules, 'torch._utils', utils)

  class Storage:
    pass

  class Tensor:
    def __reduce__(self):
      return (_rebuild_tensor_v2, (Storage(), 0, (64, 3, 11, 11), (363, 121, 11, 1), False, collections.OrderedDict()))

  class Writer(pickle.Pickler):
    def persistent_id(self, obj):
      return ('storage', storage_type, '0', 'cpu', 4) if isinstance(obj, Storage) else None

  with zipfile.ZipFile(tmp_path / 'short.pth', 'w') as archive:
    buffer = io.BytesIO()
    Writer(buffer, protocol=2).dump(collections.OrderedDict({'features.0.weight': Tensor()}))
    archive.writestr('archive/data.pkl', buffer.getvalue())
    archive.writestr('archive/data/0', np.zeros(4, np.float32).tobytes())
  with pytest.raises(import_weights.WeightsError, match=r'does not fit its storage of 4 elements'):
    import_weights.import_torchvision(str(tmp_path / 'short.pth'), str(tmp_path / 'run'))
