"""The benchmark and the summary CLI run from the command line and report what they promise."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from experiments.figures import figure3

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=600):
  result = subprocess.run([sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


@pytest.mark.slow
def test_benchmark_writes_the_promised_json(tmp_path):
  path = tmp_path / 'bench.json'
  out = run('experiments.benchmark', '--batch=4', '--image_size=67', '--num_classes=10', '--steps=1', '--reps=2',
            '--only=jax_split_mesh,jax_split_single,jax_fused', '--gemm_size=512', f'--json={path}')
  report = json.loads(path.read_text())
  assert report['peak_gflops'] > 0 and report['gemm_size'] == 512
  names = [r['name'] for r in report['results']]
  assert names == ['jax_split_mesh', 'jax_split_single', 'jax_fused']
  for r in report['results']:
    assert {'name', 'framework', 'img_per_sec', 'gflops', 'pct_of_peak'} <= set(r) and r['framework'] == 'jax'
    assert len(r['step_seconds']) == 2  # --reps
    assert r['img_per_sec'] == pytest.approx(4 / np.median(r['step_seconds']))  # --batch over the median step.
    assert r['best_img_per_sec'] == pytest.approx(4 / min(r['step_seconds']))
    assert r['pct_of_peak'] == pytest.approx(100 * r['gflops'] / report['peak_gflops'])
  assert set(report['ratios']) >= {'split_vs_torch', 'fused_vs_torch', 'mesh_vs_single'}
  rate = {r['name']: r['img_per_sec'] for r in report['results']}
  assert report['ratios']['mesh_vs_single'] == pytest.approx(rate['jax_split_mesh'] / rate['jax_split_single'])
  assert report['ratios']['split_vs_torch'] is None  # --only left the PyTorch rows out.
  assert 'jax_fused' in out and 'GEMM peak' in out


@pytest.mark.slow
def test_benchmark_times_the_default_net_with_and_without_lrn(tmp_path):
  path = tmp_path / 'bench.json'
  run('experiments.benchmark', '--net=default', '--lrn=paper,none', '--batch=8', '--steps=1', '--reps=1',
      '--only=jax_split_mesh,jax_split_single_nolrn', '--gemm_size=512', f'--json={path}')
  report = json.loads(path.read_text())
  assert report['net'] == 'default' and report['image_size'] == 28
  names = [r['name'] for r in report['results']]
  assert names == ['jax_split_mesh', 'jax_split_single_nolrn']
  gflops = {r['name']: r['gflops'] / r['img_per_sec'] for r in report['results']}
  assert gflops['jax_split_mesh'] == pytest.approx(gflops['jax_split_single_nolrn'])  # LRN adds no MACs.
  assert report['ratios']['mesh_vs_single'] is None  # a ratio needs both of its rows.


@pytest.mark.slow
def test_summary_cli_prints_the_paper_totals():
  assert run('alexnet.summary', '--config=configs/imagenet.py').rstrip().endswith('Total params: 60,965,224')
  assert run('alexnet.summary', '--config=configs/imagenet_fused.py').rstrip().endswith('Total params: 62,378,344')


@pytest.mark.slow
def test_plot_run_draws_curves_and_conv1_kernels_per_tower(tmp_path):
  workdir = tmp_path / 'run'
  run('alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}', '--config.num_train_steps=8',
      '--config.eval_every_steps=4', '--config.log_every_steps=2')
  run('experiments.plot_run', f'--workdir={workdir}')
  png = workdir / 'run.png'
  assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 10_000


@pytest.mark.slow
def test_compare_writes_the_split_vs_fused_report(tmp_path):
  run('experiments.compare', f'--workdir={tmp_path}', '--base=configs/smoke.py', '--jobs=2', '--seeds=1',
      '--timing_steps=2', '--timing_reps=1', '--gemm_size=512')
  report = (tmp_path / 'report.md').read_text()
  # Structure of the smoke nets, from alexnet.summary: parameters, MACs, bytes exchanged per image.
  assert '| two towers | 2 | 8,140 | 220,288 | 1,408 |' in report
  assert '| fused | 1 | 11,468 | 350,336 | 0 |' in report
  assert '| half-width one tower | 1 | 4,908 | 106,624 | 0 |' in report
  for net in ('two towers, (data=1, tower=2) mesh', 'two towers, one device', 'fused', 'half-width one tower'):
    assert f'| {net} | ' in report, net
  assert 'GEMM peak' in report and '| two towers | 1 |' in report
  assert re.search(r'; commit [0-9a-f]{7}.*; the runs ran at commits? [0-9a-f]{7}', report)  # which code made it
  assert 'Δ test_top1_error vs two towers (points) [95% CI]' in report  # the contrast, paired by seed
  assert 'Colour specificity is undefined here' in report  # synthetic data is grey
  for png in ('minival_curves.png', 'train_curves.png', 'test_error.png', 'figure3_base,seed=0.png'):
    assert (tmp_path / png).read_bytes()[:4] == b'\x89PNG', png


def colour_folder(root, classes=3, per_class=12, size=16):
  """Images whose class is a colour: the kernels have colour to specialise in."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  for split in ('train', 'test'):
    for c in range(classes):
      os.makedirs(root / split / f'class{c}')
      for i in range(per_class):
        image = rng.integers(0, 60, (size, size, 3))
        image[..., c] += 150
        Image.fromarray(image.astype(np.uint8)).save(root / split / f'class{c}' / f'{i}.png')
  return root


@pytest.mark.slow
def test_kernels_cli_gives_a_colour_specificity_per_tower_on_colour_data(tmp_path):
  data = colour_folder(tmp_path / 'data')
  workdir = tmp_path / 'run'
  run('alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}', f'--config.dataset=folder:{data}',
      '--config.resize_size=16', '--config.num_classes=3', '--config.minival_examples=6', '--config.batch_size=10',
      '--config.num_train_steps=6', '--config.eval_every_steps=3')
  out = run('experiments.kernels', f'--workdir={workdir}')
  line = out.strip().splitlines()[-1]
  assert line.startswith('colour specificity per tower: tower 0: ') and 'tower 1: ' in line
  values = [float(v.split(': ')[-1]) for v in line.split(', ')]
  # The printed numbers are the checkpoint's conv1 kernels' colour specificity per tower, to the 3 printed digits.
  assert len(values) == 2
  assert values == pytest.approx(figure3.tower_specificity(figure3.conv1(str(workdir))), abs=5e-4)
  assert (workdir / 'kernels.png').read_bytes()[:4] == b'\x89PNG'


@pytest.mark.slow
def test_loop_rate_times_the_loop_between_two_step_timings(tmp_path):
  path = tmp_path / 'loop.json'
  out = run('experiments.loop_rate', '--config=configs/smoke.py', '--steps=30', '--log_every=10', '--step_timing=1',
            '--gemm_size=512', f'--json={path}')
  report = json.loads(path.read_text())
  assert len(report['loop_windows']) == 3  # windows at steps 10, 20, 30; the first (compilation) is left out.
  assert report['loop_img_per_sec'] == pytest.approx(float(np.median(report['loop_windows'][1:])))
  mean_step = (report['step_img_per_sec_before'] + report['step_img_per_sec_after']) / 2
  assert report['loop_vs_step'] == pytest.approx(report['loop_img_per_sec'] / mean_step)
  assert report['peak_gflops'] > 0 and 'loop / step' in out
