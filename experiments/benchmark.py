"""Training-step throughput: JAX two-tower (mesh and one device), JAX fused, the same nets in PyTorch, and GEMM peak.

  python -m experiments.benchmark [--batch 128] [--dtype float32|bfloat16] [--json PATH] [--only jax_split_mesh,...]

Every net is timed on synthetic 227x227 images (1000 classes) for the full step: forward, backward and the SGD-momentum
update. Compile and warm-up are excluded; each net runs `--reps` repetitions of `--steps` steps; the table shows the
median and best repetition. GFLOP/s counts 3 x 2 x the forward multiply-accumulates (alexnet.summary) per image;
% of peak divides by a float32 (or bfloat16, f32 accumulate) GEMM timed in the same run. PyTorch rows appear when
torch is installed (`pip install torch==2.13.0` for the CPU wheel).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'))
  parser.add_argument('--steps', type=int, default=3, help='timed steps per repetition')
  parser.add_argument('--reps', type=int, default=3, help='repetitions (median and best are reported)')
  parser.add_argument('--image_size', type=int, default=227)
  parser.add_argument('--num_classes', type=int, default=1000)
  parser.add_argument('--cpu_conv_library', default='', choices=('', 'xla', 'ynnpack'),
                      help="override the configs' cpu_conv_library")
  parser.add_argument('--kernels', default='', choices=('', 'auto', 'cpu', 'generic'),
                      help="override the configs' kernels (pooling and LRN forms; 'auto' picks by backend)")
  parser.add_argument('--only', default='', help='comma-separated subset of row names')
  parser.add_argument('--json', default='', help='write the results here')
  return parser.parse_args(argv)


def time_steps(step_fn, steps: int, reps: int, sync) -> list[float]:
  """Seconds per step for each repetition, after two warm-up calls (compile, first-touch allocations)."""
  for _ in range(2):
    sync(step_fn())
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    for _ in range(steps):
      out = step_fn()
    sync(out)
    times.append((time.perf_counter() - start) / steps)
  return times


# ------------------------------------------------------------------------------------------------------------- JAX

def time_train_step(config, image_shape, steps: int, reps: int) -> list[float]:
  """Seconds per training step (forward, backward, update; augmentation included) for `config` on a synthetic
  batch of `config.batch_size` uint8 images of `image_shape`, one value per repetition."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from alexnet import optim, train  # pylint: disable=g-import-not-at-top
  network = train.build_network(config)
  tx = optim.make_optimizer(config, steps_per_epoch=1000)
  state = jax.jit(functools.partial(train.create_train_state, config, network, tx, tuple(image_shape)))()
  state_sharding = network.shardings(state)
  if state_sharding is not None:
    state = jax.device_put(state, state_sharding)
  step, _ = train.jit_steps(config, network, tx, state_sharding)
  rng = np.random.default_rng(0)
  stored = tuple(image_shape)  # stored at the crop size: crops (or pad-and-crops) of the whole image.
  host_batch = {'image': rng.integers(0, 256, (config.batch_size, *stored), dtype=np.uint8),
                'label': rng.integers(0, config.num_classes, config.batch_size).astype(np.int32)}
  batch = train._put(host_batch, network.batch_sharding())  # pylint: disable=protected-access
  channels = image_shape[-1]
  stats = {'mean_image': jnp.zeros(stored), 'channel_mean': jnp.zeros(channels), 'eigvals': jnp.ones(channels),
           'eigvecs': jnp.eye(channels)}
  holder = {'state': state}

  def run():
    holder['state'], metrics = step(holder['state'], batch, stats)
    return metrics['loss']

  return time_steps(run, steps, reps, jax.block_until_ready)


def jax_rows(args, wanted):
  from alexnet import summary  # pylint: disable=g-import-not-at-top
  from configs import imagenet, imagenet_fused  # pylint: disable=g-import-not-at-top

  variants = {
      'jax_split_mesh': (imagenet.get_config, dict(parallelism='mesh', mesh_data=-1, mesh_tower=-1)),
      'jax_split_single': (imagenet.get_config, dict(parallelism='single')),
      'jax_fused': (imagenet_fused.get_config, dict(parallelism='single')),
  }
  rows = []
  for name, (get_config, overrides) in variants.items():
    if wanted and name not in wanted:
      continue
    config = get_config()
    config.update(overrides)
    config.update(dict(batch_size=args.batch, image_size=args.image_size, num_classes=args.num_classes,
                       dtype=args.dtype, random_crop=False, random_flip=False, pca_lighting=0.0,
                       mean_subtraction='none', schedule='constant'))
    if args.cpu_conv_library:
      config.cpu_conv_library = args.cpu_conv_library
    if args.kernels:
      config.kernels = args.kernels
    macs = sum(r['macs'] for r in summary.layer_rows(config))
    times = time_train_step(config, (args.image_size, args.image_size, 3), args.steps, args.reps)
    rows.append(dict(name=name, framework='jax', macs_per_image=macs, times=times))
  return rows


def gemm_peak(dtype: str, n: int = 4096) -> float:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.key(0), (n, n)).astype(dtype)
  b = jax.random.normal(jax.random.key(1), (n, n)).astype(dtype)
  matmul = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  times = time_steps(lambda: matmul(a, b), steps=3, reps=3, sync=jax.block_until_ready)
  return 2 * n ** 3 / min(times) / 1e9


# --------------------------------------------------------------------------------------------------------- PyTorch

def torch_rows(args, wanted, macs_by_name):
  try:
    import torch  # pylint: disable=g-import-not-at-top
    from torch import nn  # pylint: disable=g-import-not-at-top
  except ImportError:
    print('torch is not installed: PyTorch rows skipped (pip install torch==2.13.0)', file=sys.stderr)
    return []
  torch.set_num_threads(os.cpu_count())
  device = 'cuda' if torch.cuda.is_available() else 'cpu'
  sync = (lambda loss: torch.cuda.synchronize()) if device == 'cuda' else (lambda loss: loss.item())

  def alexnet(groups: int) -> nn.Module:
    """The paper's net: groups=2 puts conv2, conv4, conv5 within towers (cuda-convnet's layout); 1 = fused."""
    lrn = lambda: nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)  # torch divides alpha by n.
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, 4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=groups), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=groups), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=groups), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, args.num_classes))

  rows = []
  for name, groups, channels_last, twin in (('torch_split_groups2', 2, False, 'jax_split_single'),
                                            ('torch_fused_channels_last', 1, True, 'jax_fused')):
    if wanted and name not in wanted:
      continue
    model = alexnet(groups).to(device)
    images = torch.randn(args.batch, 3, args.image_size, args.image_size, device=device)
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

    times = time_steps(run, args.steps, args.reps, sync=sync)
    rows.append(dict(name=name, framework='torch', macs_per_image=macs_by_name.get(twin), times=times))
  return rows


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
  peak = gemm_peak(args.dtype)
  rows = jax_rows(args, wanted)
  macs = {r['name']: r['macs_per_image'] for r in rows}
  if not macs:  # torch rows still need the FLOP counts of their JAX twins.
    from alexnet import summary  # pylint: disable=g-import-not-at-top
    from configs import imagenet, imagenet_fused  # pylint: disable=g-import-not-at-top
    for name, get_config in (('jax_split_single', imagenet.get_config), ('jax_fused', imagenet_fused.get_config)):
      config = get_config()
      config.update(dict(image_size=args.image_size, num_classes=args.num_classes))
      macs[name] = sum(r['macs'] for r in summary.layer_rows(config))
  rows += torch_rows(args, wanted, macs)

  results = []
  for r in rows:
    median, best = statistics.median(r['times']), min(r['times'])
    img_per_sec = args.batch / median
    gflops = 6 * r['macs_per_image'] * img_per_sec / 1e9
    results.append(dict(name=r['name'], framework=r['framework'], img_per_sec=img_per_sec,
                        best_img_per_sec=args.batch / best, gflops=gflops, pct_of_peak=100 * gflops / peak,
                        step_seconds=r['times']))
  by_name = {r['name']: r['img_per_sec'] for r in results}
  ratio = lambda a, b: by_name[a] / by_name[b] if a in by_name and b in by_name else None
  ratios = {'split_vs_torch': ratio('jax_split_mesh', 'torch_split_groups2'),
            'split_single_vs_torch': ratio('jax_split_single', 'torch_split_groups2'),
            'fused_vs_torch': ratio('jax_fused', 'torch_fused_channels_last'),
            'mesh_vs_single': ratio('jax_split_mesh', 'jax_split_single')}
  report = dict(date=time.strftime('%Y-%m-%d'), machine=f'{cpu_model()}, {os.cpu_count()} cores',
                device=str(jax.devices()[0].device_kind), batch=args.batch, dtype=args.dtype,
                cpu_conv_library=args.cpu_conv_library or 'config', kernels=args.kernels or 'config',
                image_size=args.image_size, peak_gflops=peak, results=results, ratios=ratios)

  print(f"\n{report['date']}  {report['machine']}  {report['device']}  batch {args.batch}  {args.dtype}  "
        f"GEMM peak {peak:.0f} GFLOP/s")
  print(f"{'net':<28}{'img/s (median)':>16}{'img/s (best)':>14}{'GFLOP/s':>10}{'% peak':>8}")
  for r in results:
    print(f"{r['name']:<28}{r['img_per_sec']:>16.1f}{r['best_img_per_sec']:>14.1f}{r['gflops']:>10.0f}"
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
