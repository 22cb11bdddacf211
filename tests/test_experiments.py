"""The benchmark and the summary CLI run from the command line and report what they promise."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=600):
  result = subprocess.run([sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def test_benchmark_writes_the_promised_json(tmp_path):
  path = tmp_path / 'bench.json'
  out = run('experiments.benchmark', '--batch=4', '--image_size=67', '--num_classes=10', '--steps=1', '--reps=2',
            '--only=jax_split_mesh,jax_split_single,jax_fused', f'--json={path}')
  report = json.loads(path.read_text())
  assert report['peak_gflops'] > 0
  names = [r['name'] for r in report['results']]
  assert names == ['jax_split_mesh', 'jax_split_single', 'jax_fused']
  for r in report['results']:
    assert {'name', 'framework', 'img_per_sec', 'gflops', 'pct_of_peak'} <= set(r) and r['img_per_sec'] > 0
  assert set(report['ratios']) >= {'split_vs_torch', 'fused_vs_torch', 'mesh_vs_single'}
  assert report['ratios']['mesh_vs_single'] > 0
  assert 'jax_fused' in out and 'GEMM peak' in out


def test_summary_cli_prints_the_paper_totals():
  assert run('alexnet.summary', '--config=configs/imagenet.py').rstrip().endswith('Total params: 60,965,224')
  assert run('alexnet.summary', '--config=configs/imagenet_fused.py').rstrip().endswith('Total params: 62,378,344')


def test_plot_run_draws_curves_and_conv1_kernels_per_tower(tmp_path):
  workdir = tmp_path / 'run'
  run('alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}', '--config.num_train_steps=8',
      '--config.eval_every_steps=4', '--config.log_every_steps=2')
  run('experiments.plot_run', f'--workdir={workdir}')
  png = workdir / 'run.png'
  assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 10_000
