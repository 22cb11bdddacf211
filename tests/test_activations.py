"""experiments.activations: whether LRN acts, on known activations and on a tiny run."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments.study import regime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_lrn_regime_on_known_activations():
  # Five maps of constant a: the middle map sums 5 a^2 over its window, the edge maps 3 a^2 and the next ones 4 a^2.
  a = 100.0
  x = np.full((2, 3, 3, 5), a, np.float32)
  figures = regime.lrn_regime(x, 'paper')
  r = {3: 1e-4 * 3 * a * a / 2, 4: 1e-4 * 4 * a * a / 2, 5: 1e-4 * 5 * a * a / 2}  # 1.5, 2, 2.5
  assert figures['r_median'] == pytest.approx(r[4], rel=1e-6)  # per position: 1.5, 2, 2.5, 2, 1.5.
  assert figures['factor_spread_p1_p99'] == pytest.approx((1 + r[3]) ** -0.75 - (1 + r[5]) ** -0.75, rel=1e-3)
  assert figures['activation_rms'] == pytest.approx(a)
  # Unit-scale activations: r ~ 1e-4, the factor constant to < 0.1%: LRN tests nothing there.
  small = regime.lrn_regime(np.ones((2, 3, 3, 5), np.float32), 'paper')
  assert small['r_p90'] < 3e-4 and small['factor_spread_p1_p99'] < 1e-3
  # Caffe's form: k = 1 and alpha / 5 per map.
  caffe = regime.lrn_regime(x, 'caffe')
  assert caffe['r_median'] == pytest.approx(1e-4 / 5 * 4 * a * a, rel=1e-6)


@pytest.mark.slow
def test_activations_cli_reports_init_and_checkpoint(tmp_path):
  workdir = tmp_path / 'run'
  subprocess.run([sys.executable, '-m', 'alexnet.main', '--config=configs/smoke.py', f'--workdir={workdir}',
                  '--config.num_train_steps=6', '--config.eval_every_steps=3', '--config.input_scale=1.0'],
                 cwd=REPO, check=True, capture_output=True, timeout=300)
  out = tmp_path / 'regime.json'
  result = subprocess.run([sys.executable, '-m', 'experiments.activations', f'--workdir={workdir}', '--examples=64',
                           f'--json={out}'], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(out.read_text())
  assert report['examples'] == 64 and report['lrn'] == 'paper' and set(report['rows']) == {'init', 'step 6'}
  for sites in report['rows'].values():
    assert set(sites) == {'conv1', 'conv2'}
    for figures in sites.values():
      assert 0 < figures['factor_p1'] <= figures['factor_median'] <= 1.0 and figures['r_median'] > 0
  assert 'step 6' in result.stdout and 'conv2' in result.stdout
  summary = json.loads((workdir / 'summary.json').read_text())
  assert len(summary['commit']) == 40 and isinstance(summary['dirty'], bool)  # the code that made the run.
