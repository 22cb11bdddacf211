"""The published AlexNet weights as a run of this project: a workdir that evaluate, predict, init_from, Figure 3 read.

  python -m alexnet.import_weights --caffemodel=bvlc_alexnet.caffemodel --workdir=runs/bvlc_alexnet
      [--caffe_mean=imagenet_mean.binaryproto | --mean_values=104.0,116.7,122.7] [--num_towers=2|1]
  python -m alexnet.import_weights --torch_state=alexnet-owt-7be5be79.pth --workdir=runs/torchvision_alexnet

Caffe's bvlc_alexnet (conv2, conv4, conv5 in two groups) goes into configs/imagenet.py's two-tower net with
lrn='caffe': each blob (out, in, h, w) becomes a (h, w, in, out) kernel; a grouped layer's two halves (outputs and
inputs alike) are the two towers' own kernels; conv3, fc6 and fc7, which read both groups, give each tower its half of
the outputs; conv1's input channels go from Caffe's BGR to RGB; fc6's rows go from Caffe's (C, H, W) flattening of
pool5 to the towers' (tower, H, W, C); the mean (a mean file or per-channel values, BGR) becomes the workdir's
stats.npz. One difference remains: Caffe normalises norm1 and norm2 over both groups' channels, the towers each over
their own (model.py), so the two channels on each side of the group boundary see a shorter LRN window.
--num_towers=1 imports into one fused tower instead, the grouped kernels laid out block-diagonally: Caffe's forward
pass exactly.

torchvision's alexnet ("One weird trick": 64-192-384-256-256, no LRN, conv1 padded by 2 at 224) goes into
configs/torchvision.py's one tower; its input normalisation ((x / 255 - mean) / std per channel) becomes channel-mean
subtraction in pixel units with 1 / (255 std) folded into conv1's kernel.

Bad input (a missing, truncated or foreign file, a workdir that holds checkpoints) is one line, exit 2, nothing
written.
"""
from __future__ import annotations

import os
import sys

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from alexnet import caffe_proto
from alexnet import model as model_lib
from alexnet import torch_file
from alexnet.data import imaging

EXIT_BAD_INPUT = 2
CONVS, FCS = ('conv1', 'conv2', 'conv3', 'conv4', 'conv5'), ('fc6', 'fc7', 'fc8')
# Layers whose input, on the two-tower net, is only their own tower's maps (Section 3.5); Caffe groups exactly these.
OWN_TOWER = ('conv2', 'conv4', 'conv5')
CAFFE_KERNELS = (11, 5, 3, 3, 3)
# The per-channel mean of Caffe's ILSVRC2012 mean image (BGR), the values its examples subtract without the file.
CAFFE_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)
# torchvision's ImageNet normalisation (RGB, images in [0, 1]).
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TORCH_LAYERS = {'conv1': 'features.0', 'conv2': 'features.3', 'conv3': 'features.6', 'conv4': 'features.8',
                'conv5': 'features.10', 'fc6': 'classifier.1', 'fc7': 'classifier.4', 'fc8': 'classifier.6'}


class WeightsError(ValueError):
  """A weight file that cannot be imported; the message (one line) names the file and what was expected."""


# ------------------------------------------------------------------------------------------------- reading files

def _read_bytes(path: str, what: str) -> bytes:
  if not os.path.isfile(path):
    raise WeightsError(f'{path}: no such file (expected {what})')
  with open(path, 'rb') as f:
    return f.read()


def read_caffemodel(path: str) -> dict[str, list[np.ndarray]]:
  """{layer name: blobs} of AlexNet's eight weighted layers in a .caffemodel (current or V1 layer format)."""
  what = "a Caffe AlexNet .caffemodel (layers conv1..conv5, fc6..fc8)"
  data = _read_bytes(path, what)
  try:
    _, layers = caffe_proto.parse_net(data)
  except ValueError as e:
    raise WeightsError(f'{path}: {e}; expected {what} (a truncated download?)') from None
  weighted = {l.name: l.blobs for l in layers if l.blobs}
  expected = CONVS + FCS
  if not weighted:
    raise WeightsError(f'{path}: no layer with weights; expected {what} (a deploy .prototxt instead of the weights?)')
  if sorted(weighted) != sorted(expected) or any(len(weighted[n]) != 2 for n in expected):
    found = ', '.join(list(weighted)[:9]) + (' ...' if len(weighted) > 9 else '')
    raise WeightsError(f'{path} is not AlexNet: expected weights and biases of {", ".join(expected)}; found {found}')
  return weighted


def read_torch_state(path: str) -> dict[str, np.ndarray]:
  """torchvision alexnet's state_dict as {key: array}."""
  what = "torchvision's alexnet state_dict (torch.save(model.state_dict()))"
  _read_bytes(path, what)
  try:
    state = torch_file.load_state_dict(path)  # no torch needed
  except torch_file.TorchFileError as e:
    raise WeightsError(f'{path}: not a readable PyTorch state_dict ({e}); expected {what}') from None
  expected = [f'{v}.{p}' for v in TORCH_LAYERS.values() for p in ('weight', 'bias')]
  if sorted(state) != sorted(expected):
    found = ', '.join(list(state)[:6]) + (' ...' if len(state) > 6 else '')
    raise WeightsError(f'{path} is not torchvision\'s alexnet: expected keys {", ".join(expected[:4])} ... '
                       f'{expected[-1]}; found {found}')
  return {k: v.astype(np.float32) for k, v in state.items()}


def read_caffe_mean(path: str) -> np.ndarray:
  """Caffe's mean file (a BlobProto, (1,) 3, H, W, BGR) as an RGB image [H, W, 3]."""
  what = 'a Caffe mean file (BlobProto of shape 3 x H x W, e.g. imagenet_mean.binaryproto)'
  data = _read_bytes(path, what)
  try:
    mean = caffe_proto.parse_blob(data)
  except ValueError as e:
    raise WeightsError(f'{path}: {e}; expected {what}') from None
  mean = mean.reshape(mean.shape[-3:]) if mean.ndim >= 3 and np.prod(mean.shape[:-3]) == 1 else mean
  if mean.ndim != 3 or mean.shape[0] != 3:
    raise WeightsError(f'{path}: a blob of shape {mean.shape}; expected {what}')
  return mean.transpose(1, 2, 0)[..., ::-1].copy()


# ------------------------------------------------------------------------------------------- weights -> params

def _stack(per_tower: list[dict]) -> dict:
  return {k: np.stack([t[k] for t in per_tower]) for k in per_tower[0]}


def _conv_towers(name: str, weight: np.ndarray, bias: np.ndarray, groups: int, num_towers: int) -> dict:
  """A conv blob (out, in/groups, h, w) of `groups` groups as the towers' stacked kernels [T, h, w, in, out/T]: the
  dense (h, w, in, out) kernel with the groups block-diagonal, each tower taking its outputs and, for the layers
  that read only their own tower, its inputs."""
  out, in_per_group = weight.shape[:2]
  dense = np.zeros((*weight.shape[2:], in_per_group * groups, out), np.float32)
  o, i = out // groups, in_per_group
  for g in range(groups):
    dense[:, :, g * i:(g + 1) * i, g * o:(g + 1) * o] = weight[g * o:(g + 1) * o].transpose(2, 3, 1, 0)
  width, own = out // num_towers, name in OWN_TOWER and num_towers > 1
  step_in = dense.shape[2] // num_towers
  inputs = lambda t: slice(t * step_in, (t + 1) * step_in) if own else slice(None)
  kernels = [dense[:, :, inputs(t), t * width:(t + 1) * width] for t in range(num_towers)]
  return _stack([{'kernel': k, 'bias': bias[t * width:(t + 1) * width]} for t, k in enumerate(kernels)])


def _fc6_rows(weight: np.ndarray, channels: int, num_towers: int) -> np.ndarray:
  """fc6's (out, C*H*W) weight, pool5 flattened (C, H, W) as Caffe and PyTorch do, as an (in, out) kernel whose rows
  follow the towers' flattening: tower by tower, each tower's pool5 flattened (H, W, its C)."""
  out, size = weight.shape[0], int(round(np.sqrt(weight.shape[1] // channels)))
  w = weight.reshape(out, num_towers, channels // num_towers, size, size).transpose(0, 1, 3, 4, 2)
  return w.reshape(out, -1).T


def _fc_towers(kernel: np.ndarray, bias: np.ndarray, num_towers: int) -> dict:
  width = kernel.shape[1] // num_towers
  return _stack([{'kernel': kernel[:, t * width:(t + 1) * width], 'bias': bias[t * width:(t + 1) * width]}
                 for t in range(num_towers)])


def net_params(convs: list[tuple[np.ndarray, np.ndarray]], fcs: list[tuple[np.ndarray, np.ndarray]],
               groups: tuple[int, ...], num_towers: int) -> dict:
  """Params {'towers': ..., 'head': {'fc8': ...}} from conv blobs (out, in/g, h, w) and FC blobs (out, in) in Caffe's
  and PyTorch's layouts (conv1's input channels already in RGB)."""
  towers = {name: _conv_towers(name, w, b, g, num_towers) for name, (w, b), g in zip(CONVS, convs, groups)}
  fc6 = _fc6_rows(fcs[0][0], convs[-1][0].shape[0], num_towers)
  towers['fc6'] = _fc_towers(fc6, fcs[0][1], num_towers)
  towers['fc7'] = _fc_towers(fcs[1][0].T, fcs[1][1], num_towers)
  return {'towers': towers, 'head': {'fc8': {'kernel': fcs[2][0].T.copy(), 'bias': fcs[2][1].copy()}}}


def caffe_config(blobs: dict[str, list[np.ndarray]], num_towers: int, path: str = 'the caffemodel'
                 ) -> ml_collections.ConfigDict:
  """configs/imagenet.py with Caffe's LRN, the widths read from the blobs, and `num_towers`; checks that the layers
  chain as AlexNet's do (conv2, conv4, conv5 in two groups)."""
  from configs import imagenet  # pylint: disable=g-import-not-at-top
  w = {n: blobs[n][0] for n in CONVS + FCS}
  kernels = tuple(w[n].shape[-1] for n in CONVS)
  if any(w[n].ndim != 4 for n in CONVS) or kernels != CAFFE_KERNELS or w['conv1'].shape[1] != 3:
    raise WeightsError(f'{path} is not AlexNet: conv kernels {[tuple(w[n].shape) for n in CONVS]}; expected '
                       f'{CAFFE_KERNELS} on a 3-channel input')
  groups = tuple(w[prev].shape[0] // w[n].shape[1] if prev else 1 for prev, n in zip((None,) + CONVS, CONVS))
  if groups != (1, 2, 1, 2, 2):
    raise WeightsError(f'{path}: conv1..conv5 in {groups} groups; expected (1, 2, 1, 2, 2) as bvlc_alexnet')
  c = imagenet.get_config()
  c.config_name = 'bvlc_alexnet'
  c.lrn = 'caffe'
  c.eval_crops = 1  # bvlc_alexnet's published accuracy is for the central crop.
  c.num_towers = num_towers
  c.conv_features = tuple(int(w[n].shape[0]) for n in CONVS)
  c.fc_features = (int(w['fc6'].shape[0]), int(w['fc7'].shape[0]))
  c.num_classes = int(w['fc8'].shape[0])
  return c


def caffe_params(blobs: dict[str, list[np.ndarray]], num_towers: int) -> dict:
  convs = [(blobs[n][0], blobs[n][1]) for n in CONVS]
  convs[0] = (convs[0][0][:, ::-1], convs[0][1])  # conv1 reads BGR in Caffe, RGB here.
  fcs = [(blobs[n][0].reshape(blobs[n][0].shape[0], -1), blobs[n][1]) for n in FCS]
  return net_params(convs, fcs, (1, 2, 1, 2, 2), num_towers)


def torch_params(state: dict[str, np.ndarray]) -> dict:
  """torchvision's alexnet as configs/torchvision.py's params; 1 / (255 std) of each input channel folded into
  conv1 (the input is then pixel - 255 mean, as `mean_subtraction='channel'` gives it)."""
  get = lambda n: (state[f'{TORCH_LAYERS[n]}.weight'], state[f'{TORCH_LAYERS[n]}.bias'])
  convs = [get(n) for n in CONVS]
  convs[0] = (convs[0][0] / (255.0 * np.asarray(TORCH_STD, np.float32))[None, :, None, None], convs[0][1])
  return net_params(convs, [get(n) for n in FCS], (1,) * 5, num_towers=1)


def check_shapes(config: ml_collections.ConfigDict, params: dict, path: str) -> None:
  """Raises WeightsError unless `params` has exactly the shapes of the net `config` describes."""
  tower, head = model_lib.from_config(config)
  image_shape = imaging.model_image_shape(config)
  expected = jax.eval_shape(lambda: model_lib.init_variables(tower, head, jax.random.key(0), image_shape))['params']
  want = {jax.tree_util.keystr(p): tuple(v.shape) for p, v in jax.tree_util.tree_leaves_with_path(expected)}
  got = {jax.tree_util.keystr(p): tuple(v.shape) for p, v in jax.tree_util.tree_leaves_with_path(params)}
  for key in want:
    if got.get(key) != want[key]:
      raise WeightsError(f'{path}: {key} would be {got.get(key)}, but the net of config {config.config_name!r} at '
                         f'{config.image_size}x{config.image_size} needs {want[key]}')


# ------------------------------------------------------------------------------------------------ the workdir

def mean_stats(mean_image: np.ndarray) -> dict[str, np.ndarray]:
  """stats.npz of an imported net: the mean image its pixels had subtracted, and its per-channel mean."""
  mean_image = np.asarray(mean_image, np.float32)
  return {'mean_image': mean_image, 'channel_mean': mean_image.mean(axis=(0, 1))}


def write_workdir(workdir: str, config: ml_collections.ConfigDict, params: dict, stats: dict, meta: dict) -> None:
  """config.json, stats.npz and checkpoints/0 (params, as checkpoint.restore_state reads them) in `workdir`."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort(indent=2))
  np.savez(os.path.join(workdir, 'stats.npz'), **stats)
  manager = ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, 'checkpoints')),
                                  options=ocp.CheckpointManagerOptions(create=True))
  state = {'step': np.zeros((), np.int32), 'params': jax.tree.map(jnp.asarray, params)}
  manager.save(0, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))
  manager.wait_until_finished()
  manager.close()


def check_empty(workdir: str) -> None:
  checkpoints = os.path.join(workdir, 'checkpoints')
  if os.path.isdir(checkpoints) and os.listdir(checkpoints):
    raise WeightsError(f'{workdir} already holds checkpoints; import into an empty --workdir')


def import_caffe(path: str, workdir: str, num_towers: int = 2, mean_file: str = '',
                 mean_values: tuple[float, ...] = CAFFE_MEAN_BGR) -> ml_collections.ConfigDict:
  """Imports a bvlc_alexnet-style .caffemodel into `workdir`; returns its config."""
  check_empty(workdir)
  blobs = read_caffemodel(path)
  config = caffe_config(blobs, num_towers, path)
  params = caffe_params(blobs, num_towers)
  check_shapes(config, params, path)
  size = config.resize_size
  if mean_file:
    mean = read_caffe_mean(mean_file)
    if mean.shape[:2] != (size, size):
      raise WeightsError(f'{mean_file}: a {mean.shape[0]}x{mean.shape[1]} mean image; expected {size}x{size}')
    config.mean_subtraction = 'pixel'
  else:
    if len(mean_values) != 3:
      raise WeightsError(f'--mean_values needs 3 values (B, G, R), got {len(mean_values)}')
    mean = np.broadcast_to(np.asarray(mean_values[::-1], np.float32), (size, size, 3))
    config.mean_subtraction = 'channel'
  meta = {'imported_from': os.path.abspath(path), 'format': 'caffe', 'mean': mean_file or list(mean_values),
          'minival_history': [], 'elapsed_seconds': 0.0}
  write_workdir(workdir, config, params, mean_stats(mean), meta)
  return config


def import_torchvision(path: str, workdir: str) -> ml_collections.ConfigDict:
  """Imports torchvision's alexnet state_dict into `workdir`; returns its config (configs/torchvision.py)."""
  from configs import torchvision as torchvision_config  # pylint: disable=g-import-not-at-top
  check_empty(workdir)
  state = read_torch_state(path)
  config = torchvision_config.get_config()
  params = torch_params(state)
  check_shapes(config, params, path)
  size = config.resize_size
  mean = np.broadcast_to(255.0 * np.asarray(TORCH_MEAN, np.float32), (size, size, 3))
  meta = {'imported_from': os.path.abspath(path), 'format': 'torchvision', 'minival_history': [],
          'elapsed_seconds': 0.0}
  write_workdir(workdir, config, params, mean_stats(mean), meta)
  return config


# ----------------------------------------------------------------------------------------------------- the CLI

FLAGS = flags.FLAGS
flags.DEFINE_string('caffemodel', '', "A Caffe AlexNet .caffemodel (bvlc_alexnet's two-group layout).")
flags.DEFINE_string('torch_state', '', "torchvision's alexnet state_dict (.pth).")
flags.DEFINE_string('workdir', None, 'Where the imported net goes (config.json, stats.npz, checkpoints/0).')
flags.DEFINE_integer('num_towers', 2, 'Caffe only: 2 = the paper\'s towers (LRN within each tower); 1 = one fused '
                     'tower, grouped kernels block-diagonal (exactly Caffe\'s forward pass).')
flags.DEFINE_string('caffe_mean', '', 'Caffe only: the mean file (imagenet_mean.binaryproto) the net was trained '
                    'with; subtracted per pixel.')
flags.DEFINE_list('mean_values', [str(v) for v in CAFFE_MEAN_BGR], 'Caffe only, without --caffe_mean: per-channel '
                  'mean in B,G,R (Caffe\'s order).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  jax.config.update('jax_platforms', 'cpu')
  try:
    if bool(FLAGS.caffemodel) == bool(FLAGS.torch_state):
      raise WeightsError('pass exactly one of --caffemodel=FILE and --torch_state=FILE')
    if FLAGS.num_towers not in (1, 2):
      raise WeightsError(f'--num_towers must be 1 or 2, got {FLAGS.num_towers}')
    if FLAGS.caffemodel:
      config = import_caffe(FLAGS.caffemodel, FLAGS.workdir, FLAGS.num_towers, FLAGS.caffe_mean,
                            tuple(float(v) for v in FLAGS.mean_values))
    else:
      config = import_torchvision(FLAGS.torch_state, FLAGS.workdir)
  except WeightsError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)
  print(f'{FLAGS.workdir}: {config.config_name}, num_towers={config.num_towers}, lrn={config.lrn}, '
        f'{config.num_classes} classes, input {config.image_size}x{config.image_size}, '
        f'mean_subtraction={config.mean_subtraction}; checkpoint 0 written')


if __name__ == '__main__':
  flags.mark_flags_as_required(['workdir'])
  app.run(main)
