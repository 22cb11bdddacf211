"""Training-step throughput: JAX two-tower (mesh and one device), JAX fused, the same nets in PyTorch, and GEMM peak.

  python -m experiments.benchmark [--net imagenet|default] [--lrn paper,none] [--batch 128] [--dtype float32|bfloat16]
                                  [--json PATH] [--only jax_split_mesh,...]

`--net=imagenet` times the paper's net on synthetic 227x227x3 images (1000 classes); `--net=default` the default
config's small net on 28x28x1 images (10 classes). `--lrn=paper,none` adds every row without LRN (suffix `_nolrn`), so
the ratios separate convolution speed from LRN speed. Every net is timed for the full step: forward, backward and the
SGD-momentum update; a JAX row runs the training loop's own jitted step (metric sums included) and launches it as the
loop does (on CPU with several virtual devices, waiting for each step: `train.wait_each_step`). Compile and warm-up are
excluded; the rows take turns, each running `--reps` repetitions of `--steps` steps, so drift in the machine's speed
hits every row alike; the table shows the median and best repetition. GFLOP/s counts 3 x 2 x the forward
multiply-accumulates (alexnet.summary) per image; % of peak divides by a float32 (or bfloat16, f32 accumulate) GEMM
timed in the same run. PyTorch rows appear when torch is installed (`pip install torch==2.13.0` for the CPU wheel).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time


NETS = ('imagenet', 'default')
LRN_SUFFIX = {'paper': '', 'none': '_nolrn'}


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'))
  parser.add_argument('--steps', type=int, default=3, help='timed steps per repetition')
  parser.add_argument('--reps', type=int, default=3, help='repetitions (median and best are reported)')
  parser.add_argument('--net', default='imagenet', choices=NETS, help="the paper's net, or the default config's")
  parser.add_argument('--lrn', default='paper', help="comma-separated: 'paper' and/or 'none' (rows suffixed _nolrn)")
  parser.add_argument('--image_size', type=int, default=0, help="0: the net's own (227, or 28 for default)")
  parser.add_argument('--num_classes', type=int, default=0, help="0: the net's own (1000, or 10 for default)")
  parser.add_argument('--cpu_conv_library', default='', choices=('', 'xla', 'ynnpack'),
                      help="override the configs' cpu_conv_library")
  parser.add_argument('--kernels', default='', choices=('', 'auto', 'cpu', 'generic'),
                      help="override the configs' kernels (pooling and LRN forms; 'auto' picks by backend)")
  parser.add_argument('--only', default='', help='comma-separated subset of row names')
  parser.add_argument('--json', default='', help='write the results here')
  parser.add_argument('--gemm_size', type=int, default=4096,
                      help='side of the square matmul timed for the GEMM peak (4096 in every published table)')
  args = parser.parse_args(argv)
  if args.gemm_size < 1:
    parser.error(f'--gemm_size must be >= 1, got {args.gemm_size}')
  args.lrn = [v for v in args.lrn.split(',') if v]
  if not args.lrn or any(v not in LRN_SUFFIX for v in args.lrn):
    parser.error(f'--lrn takes a comma-separated subset of {tuple(LRN_SUFFIX)}')
  two_towers, _ = net_configs(args.net)
  args.image_size = args.image_size or two_towers.image_size
  args.num_classes = args.num_classes or two_towers.num_classes
  args.channels = 3 if args.net == 'imagenet' else 1
  return args


def net_configs(net: str):
  """(two-tower config, fused config) of --net: configs/imagenet.py and imagenet_fused.py, or configs/default.py and
  its one-tower twin."""
  if net == 'imagenet':
    from configs import imagenet, imagenet_fused  # pylint: disable=g-import-not-at-top
    return imagenet.get_config(), imagenet_fused.get_config()
  from configs import default  # pylint: disable=g-import-not-at-top
  fused = default.get_config()
  fused.num_towers, fused.mesh_tower = 1, 1
  return default.get_config(), fused


def time_rows(runners: dict, steps: int, reps: int) -> dict[str, list[float]]:
  """Seconds per step of each runner (name -> (step_fn, sync)), one value per repetition, after two warm-up calls
  each (compile, first-touch allocations). The rows take turns: repetition r of every row runs before repetition
  r + 1 of any, so a machine whose speed drifts during the run (shared cores, clock changes) slows every row alike
  and the ratios between rows stay fair."""
  for step_fn, sync in runners.values():
    for _ in range(2):
      sync(step_fn())
  times = {name: [] for name in runners}
  for _ in range(reps):
    for name, (step_fn, sync) in runners.items():
      start = time.perf_counter()
      for _ in range(steps):
        out = step_fn()
      sync(out)
      times[name].append((time.perf_counter() - start) / steps)
  return times


def time_steps(step_fn, steps: int, reps: int, sync) -> list[float]:
  """Seconds per step of one step function, one value per repetition (`time_rows` for one row)."""
  return time_rows({'': (step_fn, sync)}, steps, reps)['']


# ------------------------------------------------------------------------------------------------------------- JAX

def train_step_runner(config, image_shape):
  """(step_fn, sync) running the training loop's own program for `config` (forward, backward, update, metric sums;
  augmentation included) on a synthetic batch of `config.batch_size` uint8 images of `image_shape`, launched as the
  loop launches it (waiting for each step where the loop waits, `train.wait_each_step`)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from alexnet import optim, steps, train  # pylint: disable=g-import-not-at-top
  network = steps.build_network(config)
  tx = optim.make_optimizer(config, steps_per_epoch=1000)
  state, state_sharding = steps.init_state(config, network, tx, image_shape)
  step, _ = steps.jit_steps(config, network, tx, state_sharding)
  rng = np.random.default_rng(0)
  stored = tuple(image_shape)  # stored at the crop size: crops (or pad-and-crops) of the whole image.
  host_batch = {'image': rng.integers(0, 256, (config.batch_size, *stored), dtype=np.uint8),
                'label': rng.integers(0, config.num_classes, config.batch_size).astype(np.int32)}
  batch = train.put_batch(host_batch, network.batch_sharding())
  channels = image_shape[-1]
  stats = {'mean_image': jnp.zeros(stored), 'channel_mean': jnp.zeros(channels), 'eigvals': jnp.ones(channels),
           'eigvecs': jnp.eye(channels)}
  holder = {'state': state, 'sums': steps.zero_sums()}
  wait = train.wait_each_step()

  def run():
    holder['state'], holder['sums'] = step(holder['state'], holder['sums'], batch, stats)
    if wait:
      jax.block_until_ready(holder['sums'])
    return holder['sums']

  return run, jax.block_until_ready


def time_train_step(config, image_shape, steps: int, reps: int) -> list[float]:
  """Seconds per training step of `config` (`train_step_runner`), one value per repetition."""
  step_fn, sync = train_step_runner(config, image_shape)
  return time_steps(step_fn, steps, reps, sync)


def jax_configs(args) -> dict:
  """Row name -> config, for every JAX row that --net and --lrn ask for."""
  two_towers, fused = net_configs(args.net)
  variants = {'jax_split_mesh': (two_towers, dict(parallelism='mesh', mesh_data=-1, mesh_tower=-1)),
              'jax_split_single': (two_towers, dict(parallelism='single')),
              'jax_fused': (fused, dict(parallelism='single'))}
  configs = {}
  for lrn in args.lrn:
    for name, (base, overrides) in variants.items():
      config = base.copy_and_resolve_references()
      config.update(overrides)
      config.update(dict(batch_size=args.batch, image_size=args.image_size, num_classes=args.num_classes,
                         dtype=args.dtype, random_crop=False, random_flip=False, pca_lighting=0.0, pad_crop=0,
                         mean_subtraction='none', schedule='constant', lrn=lrn))
      if args.cpu_conv_library:
        config.cpu_conv_library = args.cpu_conv_library
      if args.kernels:
        config.kernels = args.kernels
      configs[name + LRN_SUFFIX[lrn]] = config
  return configs


def jax_runners(args, configs: dict, wanted) -> dict:
  image_shape = (args.image_size, args.image_size, args.channels)
  return {name: train_step_runner(config, image_shape) for name, config in configs.items()
          if not wanted or name in wanted}


def gemm_peak(dtype: str, n: int = 4096) -> float:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.key(0), (n, n)).astype(dtype)
  b = jax.random.normal(jax.random.key(1), (n, n)).astype(dtype)
  matmul = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  times = time_steps(lambda: matmul(a, b), steps=3, reps=3, sync=jax.block_until_ready)
  return 2 * n ** 3 / min(times) / 1e9


# --------------------------------------------------------------------------------------------------------- PyTorch

def torch_runners(args, wanted, twins: dict) -> dict:
  """PyTorch rows (name -> (step_fn, sync)); `twins` gets each row's JAX twin (whose work it does)."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
    from torch import nn  # pylint: disable=g-import-not-at-top
  except ImportError:
    print('torch is not installed: PyTorch rows skipped (pip install torch==2.13.0)', file=sys.stderr)
    return {}
  from alexnet import model as model_lib  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(os.cpu_count())
  device = 'cuda' if torch.cuda.is_available() else 'cpu'
  sync = (lambda loss: torch.cuda.synchronize()) if device == 'cuda' else (lambda loss: loss.item())

  def alexnet(config, groups: int, lrn: bool) -> nn.Module:
    """The config's net in PyTorch: groups=2 puts conv2, conv4, conv5 within towers (cuda-convnet's layout); 1 = fused.
    The same layer shapes and work as the JAX net ('SAME' pools pad both sides here, JAX only the far one)."""
    (k1, k2, k3, k4, k5), (c1, c2, c3, c4, c5) = config.conv_kernels, config.conv_features
    window, stride = model_lib.POOLS[config.pool]
    pad = 0 if config.pool_padding == 'VALID' else (window - 1) // 2
    pool = lambda: nn.MaxPool2d(window, stride, padding=pad)
    norm = lambda: [nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)] if lrn else []  # torch divides by n.
    conv1_pad = {'VALID': 0, 'SAME': k1 // 2}.get(config.conv1_padding, 0)
    convs = nn.Sequential(
        nn.Conv2d(args.channels, c1, k1, config.conv1_stride, padding=conv1_pad), nn.ReLU(), *norm(), pool(),
        nn.Conv2d(c1, c2, k2, padding=k2 // 2, groups=groups), nn.ReLU(), *norm(), pool(),
        nn.Conv2d(c2, c3, k3, padding=k3 // 2), nn.ReLU(),
        nn.Conv2d(c3, c4, k4, padding=k4 // 2, groups=groups), nn.ReLU(),
        nn.Conv2d(c4, c5, k5, padding=k5 // 2, groups=groups), nn.ReLU(), pool(), nn.Flatten())
    flat = convs(torch.zeros(1, args.channels, args.image_size, args.image_size)).shape[1]
    f6, f7 = config.fc_features
    return nn.Sequential(convs, nn.Dropout(0.5), nn.Linear(flat, f6), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(f6, f7), nn.ReLU(), nn.Linear(f7, args.num_classes))

  def torch_runner(model, channels_last: bool):
    model = model.to(device)
    images = torch.randn(args.batch, args.channels, args.image_size, args.image_size, device=device)
    if channels_last:
      model, images = model.to(memory_format=torch.channels_last), images.to(memory_format=torch.channels_last)
    labels = torch.randint(0, args.num_classes, (args.batch,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=args.dtype == 'bfloat16')

    def run():
      optimizer.zero_grad(set_to_none=True)
      with autocast:
        loss = loss_fn(model(images), labels)
      loss.backward()
      optimizer.step()
      return loss

    return run, sync

  two_towers, fused = net_configs(args.net)
  runners = {}
  for lrn in args.lrn:
    suffix = LRN_SUFFIX[lrn]
    for name, config, groups, channels_last, twin in (
        ('torch_split_groups2' + suffix, two_towers, 2, False, 'jax_split_single' + suffix),
        ('torch_fused_channels_last' + suffix, fused, 1, True, 'jax_fused' + suffix)):
      if wanted and name not in wanted:
        continue
      runners[name] = torch_runner(alexnet(config, groups, lrn == 'paper'), channels_last)
      twins[name] = twin
  return runners


# ----------------------------------------------------------------------------------------------------------- report

def cpu_model() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      return next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
  except (OSError, StopIteration):
    return platform.processor() or platform.machine()


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update('jax_num_cpu_devices', 2)
  wanted = {w for w in args.only.split(',') if w}
  peak = gemm_peak(args.dtype, args.gemm_size)
  from alexnet import summary  # pylint: disable=g-import-not-at-top
  configs = jax_configs(args)
  # Multiply-accumulates per image of every JAX net; a PyTorch row counts its JAX twin's.
  macs = {name: sum(r['macs'] for r in summary.layer_rows(config)) for name, config in configs.items()}
  twins = {name: name for name in configs}
  runners = jax_runners(args, configs, wanted) | torch_runners(args, wanted, twins)
  times = time_rows(runners, args.steps, args.reps)

  results = []
  for name, step_seconds in times.items():
    median, best = statistics.median(step_seconds), min(step_seconds)
    img_per_sec = args.batch / median
    gflops = 6 * macs[twins[name]] * img_per_sec / 1e9
    results.append(dict(name=name, framework=name.split('_')[0], img_per_sec=img_per_sec,
                        best_img_per_sec=args.batch / best, gflops=gflops, pct_of_peak=100 * gflops / peak,
                        step_seconds=step_seconds))
  by_name = {r['name']: r['img_per_sec'] for r in results}
  ratio = lambda a, b: by_name[a] / by_name[b] if a in by_name and b in by_name else None
  ratios = {}
  for suffix in (LRN_SUFFIX[lrn] for lrn in args.lrn):
    ratios |= {f'split_vs_torch{suffix}': ratio(f'jax_split_mesh{suffix}', f'torch_split_groups2{suffix}'),
               f'split_single_vs_torch{suffix}': ratio(f'jax_split_single{suffix}', f'torch_split_groups2{suffix}'),
               f'fused_vs_torch{suffix}': ratio(f'jax_fused{suffix}', f'torch_fused_channels_last{suffix}'),
               f'mesh_vs_single{suffix}': ratio(f'jax_split_mesh{suffix}', f'jax_split_single{suffix}')}
  report = dict(date=time.strftime('%Y-%m-%d'), machine=f'{cpu_model()}, {os.cpu_count()} cores',
                device=str(jax.devices()[0].device_kind), net=args.net, lrn=args.lrn, batch=args.batch,
                dtype=args.dtype,
                cpu_conv_library=args.cpu_conv_library or 'config', kernels=args.kernels or 'config',
                image_size=args.image_size, peak_gflops=peak, gemm_size=args.gemm_size, results=results,
                ratios=ratios)

  print(f"\n{report['date']}  {report['machine']}  {report['device']}  net {args.net}  batch {args.batch}  "
        f"{args.dtype}  GEMM peak {peak:.0f} GFLOP/s")
  print(f"{'net':<34}{'img/s (median)':>16}{'img/s (best)':>14}{'GFLOP/s':>10}{'% peak':>8}")
  for r in results:
    print(f"{r['name']:<34}{r['img_per_sec']:>16.1f}{r['best_img_per_sec']:>14.1f}{r['gflops']:>10.0f}"
          f"{r['pct_of_peak']:>8.1f}")
  for k, v in ratios.items():
    if v is not None:
      print(f'{k}: {v:.2f}x')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(report, f, indent=2)
  return report


if __name__ == '__main__':
  main()
