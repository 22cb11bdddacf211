"""Training-step throughput: JAX two-tower (mesh and one device), JAX fused, the same nets in PyTorch, and GEMM peak.

  python -m experiments.benchmark [--net imagenet|default] [--lrn paper,none] [--batch 128] [--dtype float32|bfloat16]
                                  [--json PATH] [--only jax_split_mesh,...]

`--net=imagenet` times the paper's net on synthetic 227x227x3 images (1000 classes); `--net=default` the default
config's small net on 28x28x1 images (10 classes). `--lrn=paper,none` adds every row without LRN (suffix `_nolrn`), so
the ratios separate convolution speed from LRN speed. Every net is timed for the full step: forward, backward and the
SGD-momentum update; a JAX row runs the training loop's own jitted step (experiments/bench/step_runner.py), a PyTorch
row its twin (experiments/bench/torch_twins.py). Compile and warm-up are excluded; the rows take turns, each running
`--reps` repetitions of `--steps` steps, so drift in the machine's speed hits every row alike
(experiments/bench/timing.py); the table shows the median and best repetition. GFLOP/s counts 3 x 2 x the forward
multiply-accumulates (alexnet.summary) per image; % of peak divides by a float32 (or bfloat16, f32 accumulate) GEMM
timed in the same run. PyTorch rows appear
when torch is installed (`pip install torch==2.13.0` for the CPU wheel).
"""
from __future__ import annotations

import json
import statistics
import sys

from absl import app
from absl import flags
import jax

from alexnet import summary
from configs import default as default_config
from configs import imagenet as imagenet_config
from configs import imagenet_fused as imagenet_fused_config
from experiments.bench import step_runner
from experiments.bench import timing
from experiments.bench import torch_twins

NETS = ('imagenet', 'default')
LRN_SUFFIX = {'paper': '', 'none': '_nolrn'}

flags.DEFINE_integer('batch', 128, 'Images per step.')
flags.DEFINE_enum('dtype', 'float32', ['float32', 'bfloat16'], 'Compute dtype (and the GEMM peak\'s).')
flags.DEFINE_integer('steps', 3, 'Timed steps per repetition.')
flags.DEFINE_integer('reps', 3, 'Repetitions (median and best are reported).')
flags.DEFINE_enum('net', 'imagenet', NETS, "The paper's net, or the default config's.")
flags.DEFINE_list('lrn', ['paper'], "'paper' and/or 'none' (rows suffixed _nolrn).")
flags.DEFINE_integer('image_size', 0, "0: the net's own (227, or 28 for default).")
flags.DEFINE_integer('num_classes', 0, "0: the net's own (1000, or 10 for default).")
flags.DEFINE_enum('cpu_conv_library', None, ['xla', 'ynnpack'], "Override the configs' cpu_conv_library.")
flags.DEFINE_enum('kernels', None, ['auto', 'cpu', 'generic'],
                  "Override the configs' kernels (pooling and LRN forms; 'auto' picks by backend).")
flags.DEFINE_list('only', [], 'A subset of row names.')
flags.DEFINE_string('json', '', 'Write the results here.')
flags.DEFINE_integer('gemm_size', 4096, 'Side of the square matmul timed for the GEMM peak (4096 in every published '
                     'table).', lower_bound=1)
flags.register_validator('lrn', lambda v: bool(v) and all(x in LRN_SUFFIX for x in v),
                         f'--lrn takes a comma-separated subset of {tuple(LRN_SUFFIX)}')
FLAGS = flags.FLAGS


def net_configs(net: str):
  """(two-tower config, fused config) of --net: configs/imagenet.py and imagenet_fused.py, or configs/default.py and
  its one-tower twin."""
  if net == 'imagenet':
    return imagenet_config.get_config(), imagenet_fused_config.get_config()
  fused = default_config.get_config()
  fused.num_towers, fused.mesh_tower = 1, 1
  return default_config.get_config(), fused


def batch_of_flags() -> torch_twins.Batch:
  two_towers, _ = net_configs(FLAGS.net)
  return torch_twins.Batch(size=FLAGS.batch, image_size=FLAGS.image_size or two_towers.image_size,
                           channels=3 if FLAGS.net == 'imagenet' else 1,
                           num_classes=FLAGS.num_classes or two_towers.num_classes, dtype=FLAGS.dtype)


def jax_configs(batch: torch_twins.Batch) -> dict:
  """Row name -> config, for every JAX row that --net and --lrn ask for."""
  two_towers, fused = net_configs(FLAGS.net)
  variants = {'jax_split_mesh': (two_towers, dict(parallelism='mesh', mesh_data=-1, mesh_tower=-1)),
              'jax_split_single': (two_towers, dict(parallelism='single')),
              'jax_fused': (fused, dict(parallelism='single'))}
  configs = {}
  for lrn in FLAGS.lrn:
    for name, (base, overrides) in variants.items():
      config = base.copy_and_resolve_references()
      config.update(overrides)
      config.update(dict(batch_size=batch.size, image_size=batch.image_size, num_classes=batch.num_classes,
                         dtype=batch.dtype, random_crop=False, random_flip=False, pca_lighting=0.0, pad_crop=0,
                         mean_subtraction='none', schedule='constant', lrn=lrn))
      if FLAGS.cpu_conv_library:
        config.cpu_conv_library = FLAGS.cpu_conv_library
      if FLAGS.kernels:
        config.kernels = FLAGS.kernels
      configs[name + LRN_SUFFIX[lrn]] = config
  return configs


def torch_rows(batch: torch_twins.Batch, wanted) -> dict[str, tuple]:
  """PyTorch row name -> ((step_fn, sync), the JAX row whose work it does)."""
  if not torch_twins.available():
    print('torch is not installed: PyTorch rows skipped (pip install torch==2.13.0)', file=sys.stderr)
    return {}
  two_towers, fused = net_configs(FLAGS.net)
  rows = {}
  for lrn in FLAGS.lrn:
    suffix = LRN_SUFFIX[lrn]
    for name, config, groups, channels_last, twin in (
        ('torch_split_groups2' + suffix, two_towers, 2, False, 'jax_split_single' + suffix),
        ('torch_fused_channels_last' + suffix, fused, 1, True, 'jax_fused' + suffix)):
      if not wanted or name in wanted:
        model = torch_twins.alexnet(config, groups, lrn == 'paper', batch)
        rows[name] = (torch_twins.step_runner(model, batch, channels_last), twin)
  return rows


def result_rows(times: dict, macs: dict, twins: dict, batch_size: int, peak: float) -> list[dict]:
  """A row per timed net: median and best img/s, GFLOP/s (a PyTorch row counts its JAX twin's MACs), % of peak."""
  results = []
  for name, step_seconds in times.items():
    median, best = statistics.median(step_seconds), min(step_seconds)
    img_per_sec = batch_size / median
    gflops = 6 * macs[twins[name]] * img_per_sec / 1e9
    results.append(dict(name=name, framework=name.split('_')[0], img_per_sec=img_per_sec,
                        best_img_per_sec=batch_size / best, gflops=gflops, pct_of_peak=100 * gflops / peak,
                        step_seconds=step_seconds))
  return results


def ratios(results: list[dict]) -> dict[str, float | None]:
  """JAX against PyTorch and the mesh against one device, per LRN form; None where a row was not timed."""
  by_name = {r['name']: r['img_per_sec'] for r in results}
  ratio = lambda a, b: by_name[a] / by_name[b] if a in by_name and b in by_name else None
  out = {}
  for suffix in (LRN_SUFFIX[lrn] for lrn in FLAGS.lrn):
    out |= {f'split_vs_torch{suffix}': ratio(f'jax_split_mesh{suffix}', f'torch_split_groups2{suffix}'),
            f'split_single_vs_torch{suffix}': ratio(f'jax_split_single{suffix}', f'torch_split_groups2{suffix}'),
            f'fused_vs_torch{suffix}': ratio(f'jax_fused{suffix}', f'torch_fused_channels_last{suffix}'),
            f'mesh_vs_single{suffix}': ratio(f'jax_split_mesh{suffix}', f'jax_split_single{suffix}')}
  return out


def print_table(machine: timing.Machine, results: list[dict], ratio_of: dict) -> None:
  print(f'\n{machine.header()}  net {FLAGS.net}  batch {FLAGS.batch}  {FLAGS.dtype}')
  print(f"{'net':<34}{'img/s (median)':>16}{'img/s (best)':>14}{'GFLOP/s':>10}{'% peak':>8}")
  for r in results:
    print(f"{r['name']:<34}{r['img_per_sec']:>16.1f}{r['best_img_per_sec']:>14.1f}{r['gflops']:>10.0f}"
          f"{r['pct_of_peak']:>8.1f}")
  for k, v in ratio_of.items():
    if v is not None:
      print(f'{k}: {v:.2f}x')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  jax.config.update('jax_num_cpu_devices', 2)  # the two-tower mesh's (1, 2); before JAX starts its backend.
  wanted = set(FLAGS.only)
  machine = timing.machine(FLAGS.dtype, FLAGS.gemm_size)
  batch = batch_of_flags()
  configs = jax_configs(batch)
  # Multiply-accumulates per image of every JAX net; a PyTorch row counts its JAX twin's.
  macs = {name: sum(r['macs'] for r in summary.layer_rows(config)) for name, config in configs.items()}
  image_shape = (batch.image_size, batch.image_size, batch.channels)
  runners = {name: step_runner.train_step_runner(config, image_shape) for name, config in configs.items()
             if not wanted or name in wanted}
  twins = {name: name for name in configs}
  for name, (runner, twin) in torch_rows(batch, wanted).items():
    runners[name], twins[name] = runner, twin
  results = result_rows(timing.time_rows(runners, FLAGS.steps, FLAGS.reps), macs, twins, batch.size,
                        machine.peak_gflops)
  ratio_of = ratios(results)
  report = machine.as_json() | dict(
      net=FLAGS.net, lrn=FLAGS.lrn, batch=batch.size, dtype=batch.dtype,
      cpu_conv_library=FLAGS.cpu_conv_library or 'config', kernels=FLAGS.kernels or 'config',
      image_size=batch.image_size, results=results, ratios=ratio_of)
  print_table(machine, results, ratio_of)
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump(report, f, indent=2)


if __name__ == '__main__':
  app.run(main)
