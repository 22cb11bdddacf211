"""The sweep vocabulary, planning, tables, and the runner end to end (skip, resume, failure)."""
import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from alexnet import records
from experiments.study import stats
from experiments.sweep import hyper
from experiments.sweep import local
from experiments.sweep import plan
from experiments.sweep import plots
from experiments.sweep import report
from experiments.sweep import run_queue
from experiments.sweep import sweep_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWEEPS = os.path.join(REPO, 'experiments', 'sweeps')


def test_hyper_product_zipit_chain():
  grid = hyper.product([hyper.sweep('config.a', [1, 2]), hyper.sweep('config.b', ['x', 'y'])])
  assert grid == [{'config.a': 1, 'config.b': 'x'}, {'config.a': 1, 'config.b': 'y'},
                  {'config.a': 2, 'config.b': 'x'}, {'config.a': 2, 'config.b': 'y'}]
  pairs = hyper.zipit([hyper.sweep('label', ['p', 'q']), hyper.sweep('config.a', [1, 2])])
  assert pairs == [{'label': 'p', 'config.a': 1}, {'label': 'q', 'config.a': 2}]
  assert hyper.chain([pairs[:1], hyper.fixed('config.c', 3)]) == [{'label': 'p', 'config.a': 1}, {'config.c': 3}]
  with pytest.raises(ValueError, match='one length'):
    hyper.zipit([hyper.sweep('config.a', [1]), hyper.sweep('config.b', [1, 2])])
  with pytest.raises(ValueError, match='twice'):
    hyper.product([hyper.sweep('config.a', [1]), hyper.sweep('config.a', [2])])
  with pytest.raises(ValueError, match="'config.<field>'"):
    hyper.sweep('lrn', ['none'])


def plan_of(name, runs_dir='/runs', base='', schedule='short'):
  module = sweep_file.load(os.path.join(SWEEPS, f'{name}.py'))
  return plan.plan(module, sweep_file.load_config(os.path.join(REPO, base or module.BASE)), schedule, runs_dir)


def test_plans_name_runs_by_what_differs_from_the_base():
  towers = plan_of('towers')
  assert [r.slug for r in towers[:9]] == [f'base,seed={s}' for s in range(9)]
  half = [r for r in towers if r.point == 'half-width one tower']
  # Footnote 2 applied to the small net (32, 64, 96, 96, 64): conv1-conv4 halved, conv5 and the FC layers kept.
  assert half[0].config.conv_features == (16, 32, 48, 48, 64) and half[0].config.fc_features == (512, 512)
  assert half[0].slug == 'conv_features=16-32-48-48-64,num_towers=1,seed=0'
  # Every arm on the base's devices: the one-tower nets on its mesh, which gives them a tower axis of 1.
  assert {r.config.parallelism for r in towers} == {'mesh'}
  assert [r.seed for r in towers] == list(range(9)) * 3
  # The second design: one schedule fixed in advance for every arm (x0.1 at epochs 8, 11, 14, the end at 17); the
  # base point of the three sweeps sharing it is one run.
  assert all((r.config.config_name, r.config.schedule, r.config.drop_epochs, r.config.num_epochs) ==
             ('proxy_drops', 'drops', (8.0, 11.0, 14.0), 17.0) for r in towers)
  lrn, pooling = plan_of('lrn'), plan_of('pooling')
  assert lrn[0].workdir == towers[0].workdir == pooling[0].workdir == '/runs/base,seed=0'
  assert [r.point for r in lrn[::9]] == ['lrn=paper', 'lrn=none']
  # The same file on the paper's config halves the paper's widths: conv 48-128-192-192-256 (footnote 2).
  imagenet_half = [r for r in plan_of('towers', base='configs/imagenet.py') if r.point == 'half-width one tower']
  assert imagenet_half[0].config.conv_features == (48, 128, 192, 192, 256)
  full = plan_of('lrn', base='configs/imagenet.py', schedule='full')
  schedules = {(r.config.num_epochs, r.config.schedule, r.config.eval_every_epochs) for r in full}
  assert schedules == {(90.0, 'plateau', 1.0)}
  assert [r.slug for r in full[:10:9]] == ['base,seed=0', 'lrn=none,seed=0']
  # The init question: the first epoch only at a constant rate, logged every 10 steps, biases 1 / 0.1 / 0 on the
  # paper's scaled init, 15 seeds, none of them the first design's (0-4), whose curves chose the metric's window.
  init = plan_of('init')
  assert sorted({r.seed for r in init}) == list(range(5, 20))
  assert {(r.config.num_epochs, r.config.schedule, r.config.log_every_steps, r.config.init) for r in init} == {
      (1.0, 'constant', 10, 'paper_scaled')}
  assert [r.config.positive_bias for r in init[::15]] == [1.0, 0.1, 0.0]
  # The overfitting regime of dropout and augmentation: a fixed 5,000-image subset, 40 epochs of it.
  for name in ('dropout', 'augmentation'):
    assert {(r.config.train_examples, r.config.num_epochs, r.config.pca_lighting) for r in plan_of(name)} == {
        (5000, 40.0, 0.0)}
  # Dropout's arms have crops and flips off, so its reference (dropout 0.5) is augmentation's arm without them, the
  # same runs: the two questions cost 15 runs, not 20.
  dropout, augmentation = plan_of('dropout', schedule='full'), plan_of('augmentation', schedule='full')
  assert {(r.config.random_crop, r.config.pad_crop, r.config.random_flip) for r in dropout} == {(False, 0, False)}
  assert [r.workdir for r in dropout[:5]] == [r.workdir for r in augmentation[5:]]
  assert [r.config.to_json() for r in dropout[:5]] == [r.config.to_json() for r in augmentation[5:]]
  assert len({r.workdir for r in dropout + augmentation}) == 15


def test_flag_values_read_back_by_config_flags():
  assert plan.flag_value((16, 32)) == '(16,32)' and plan.flag_value((7,)) == '(7,)'
  assert plan.flag_value(0.1) == '0.1' and plan.flag_value(False) == 'False'
  assert plan.slugify({'lrn': 'none', 'conv1_padding': '1,2'}, 3) == 'conv1_padding=1,2,lrn=none,seed=3'
  # A long slug ends in a hash of its point, so the seeds of one point still share it.
  long = {f'field_{i}': 'x' * 10 for i in range(10)}
  point = plan.point_slug(long)
  assert len(point) == 99
  assert plan.slugify(long, 0) == f'{point},seed=0' and plan.slugify(long, 1) == f'{point},seed=1'


def test_markdown_gives_mean_std_n_and_the_contrast_paired_by_seed():
  module = types.SimpleNamespace(REFERENCE='ref', __name__='q')
  rows = [{'point': p, 'run': f'{p}{i}', 'seed': i, 'minival_top1_error': e, 'test_top1_error': e,
           'test_top5_error': e / 10, 'images_per_sec': 100.0, 'wall_seconds': 60.0}
          for p, errors in (('ref', [0.10, 0.12, 0.14]), ('other', [0.20, 0.20, 0.23])) for i, e in enumerate(errors)]
  table = report.markdown(rows, module, 'T')
  ref_line = next(l for l in table.splitlines() if l.startswith('| ref '))
  other_line = next(l for l in table.splitlines() if l.startswith('| other '))
  assert '| 3 | - | 12.00 ± 2.00 | 12.00 ± 2.00 | 1.20 ± 0.20 | - | - |' in ref_line
  # Paired differences 10, 8, 9 points: mean 9, sd 1, 95% CI 9 -+ t(0.975, 2) / sqrt(3) = 9 -+ 2.48; p = 0.0041;
  # all three positive: sign-flip p = 2 / 8; MDE at 0.05 with 80% power for sd 1, n = 3 (noncentral t).
  assert '| 21.00 ± 1.73 |' in other_line
  assert '| 3 | +9.00 [+6.52, +11.48] | 0.0041 | 0.25 |' in other_line
  header = [c.strip() for c in table.splitlines()[2].strip('|').split('|')]
  cells = dict(zip(header, [c.strip() for c in other_line.strip('|').split('|')], strict=True))
  assert float(cells['MDE (0.05, 80%)']) == pytest.approx(stats.mde(1.0, 3), abs=0.006)
  assert 'Selected' not in table  # no SELECT, no selection.


def test_a_fixed_schedule_is_stated_checked_for_convergence_and_marked_on_the_curves():
  runs = plan_of('lrn')[:2] + plan_of('lrn')[9:11]  # lrn=paper and lrn=none, seeds 0 and 1, on fixed drops.
  rows = [{'run': r.slug, 'point': r.point, 'seed': r.seed, 'minival_top1_error': 0.1, 'test_top1_error': 0.1,
           'test_top5_error': 0.01, 'images_per_sec': 100.0, 'wall_seconds': 60.0, 'schedule': 'drops',
           'drop_epochs': '8, 11, 14', 'steps': 6800, 'epochs': 17.0,
           'train_top1_error_late_change': late} for r, late in zip(runs, (0.001, -0.002, -0.004, -0.008))]
  table = report.markdown(rows, sweep_file.question('lrn'), 'LRN')
  assert 'The schedule, fixed in advance, of every point: x0.1 at epochs 8, 11, 14; runs end at epoch 17.0.' in table
  # A point whose runs end elsewhere gets a line of its own, named.
  rows[3]['epochs'] = 12.5
  assert report.fixed_schedule_notes({'lrn=paper': rows[:2], 'lrn=none': rows[2:]}) == [
      'The schedule of lrn=paper, fixed in advance: x0.1 at epochs 8, 11, 14; runs end at epoch 17.0.',
      'The schedule of lrn=none, fixed in advance: x0.1 at epochs 8, 11, 14; runs end at epoch 12.5, 17.0.']
  rows[3]['epochs'] = 17.0
  # lrn=none's training error still falls by 0.6 points over the last tenth (mean of -0.4 and -0.8): over 0.5.
  assert ('Convergence: not converged: lrn=none (training error over the last tenth of training minus the tenth '
          'before, mean over runs, in points: lrn=paper -0.05, lrn=none -0.60; the design allows at most 0.5).'
          in table)
  # The drops at 400 steps an epoch: steps 3200, 4400, 5600.
  assert plots.drop_steps(rows, runs) == [3200.0, 4400.0, 5600.0]
  assert plots.drop_steps([dict(rows[0], run='other')], runs) == []


def test_selection_reads_the_minival_mean_only():
  """SELECT picks the point with the lowest minival mean, whatever the test columns say; a test metric is refused."""
  rows = [{'point': p, 'seed': i, 'minival_top1_error': m, 'test_top1_error': t}
          for p, pairs in (('lr=0.1', [(0.09, 0.01), (0.11, 0.01)]), ('lr=0.05', [(0.08, 0.5), (0.10, 0.5)]))
          for i, (m, t) in enumerate(pairs)]
  module = types.SimpleNamespace(SELECT='minival_top1_error')
  assert report.selection(module, rows) == (
      'Selected by the rule (the lowest mean minival_top1_error of the 2 points finished; test not read): '
      '**lr=0.05**.')
  with pytest.raises(ValueError, match='SELECT must be a minival or steps_to_ metric'):
    report.selection(types.SimpleNamespace(SELECT='test_top1_error'), rows)


def test_selection_within_a_field_on_training_speed():
  """SELECT_WITHIN picks the fastest point of each unit type; a point that never reached the error is never picked,
  and a unit none of whose points reached it has no selection."""
  steps = {('relu', 0.01): [90, 110], ('relu', 0.1): [60, 70], ('tanh', 0.01): [50, 50], ('tanh', 0.1): [40, None],
           ('sigmoid', 0.1): [None, None]}
  rows = [{'point': f'{unit},lr={lr}', 'activation': unit, 'seed': i, 'steps_to_0.1_train_error': n,
           'test_top1_error': 0.0} for (unit, lr), ns in steps.items() for i, n in enumerate(ns)]
  module = types.SimpleNamespace(SELECT='steps_to_0.1_train_error', SELECT_WITHIN='activation')
  assert report.selection(module, rows) == (
      'Selected by the rule (the lowest mean steps_to_0.1_train_error among the 5 points finished, for each '
      'activation; test not read): **relu,lr=0.1**; **tanh,lr=0.01**.')


def test_selection_within_several_fields_and_the_ratio_ladder():
  """SELECT_WITHIN may name several fields (one selection per combination); log2 steps give the ratio ladder."""
  rows = [{'point': f'{unit} {init} lr={lr}', 'activation': unit, 'init': init, 'seed': 0,
           'steps_to_0.25_train_error': n} for unit, init, lr, n in (
               ('relu', 'lecun', 0.01, 50), ('relu', 'lecun', 0.1, 40), ('relu', 'fixed', 0.01, 90),
               ('relu', 'fixed', 0.001, 80))]
  module = types.SimpleNamespace(SELECT='steps_to_0.25_train_error', SELECT_WITHIN=('activation', 'init'))
  assert report.selection(module, rows).endswith('for each activation and init; test not read): '
                                                 '**relu lecun lr=0.1**; **relu fixed lr=0.001**.')
  # tanh takes 4x and 8x ReLU's steps to 25% on two seeds (geometric mean 5.66x), 2x to 10% on one, never on the
  # other.
  ladder = [{'point': p, 'seed': s, 'log2_steps_to_0.25_train_error': math.log2(n25),
             'log2_steps_to_0.1_train_error': None if n10 is None else math.log2(n10)}
            for p, s, n25, n10 in (('relu', 0, 50, 300), ('relu', 1, 40, 320), ('tanh', 0, 200, 600),
                                   ('tanh', 1, 320, None))]
  assert report.ratio_ladder(ladder, 'relu') == (
      'Steps to each training error, as a ratio to the reference (geometric mean over the seeds where both reached '
      'it): tanh / relu: 25%: 5.66x (n=2); 10%: 2.00x (n=1; 1 where only relu did).')
  # A seed where only the point reached it counts too, and a target nobody paired says so.
  ladder[1]['log2_steps_to_0.1_train_error'] = None
  ladder[3]['log2_steps_to_0.1_train_error'] = math.log2(900)
  ladder[2]['log2_steps_to_0.1_train_error'] = None
  assert report.ratio_ladder(ladder, 'relu').endswith(
      'tanh / relu: 25%: 5.66x (n=2); 10%: - (n=0; 1 where only relu did; 1 where only tanh did).')
  assert report.ratio_ladder(ladder, None) == ''


def test_a_sweep_file_names_the_program_its_runs_execute():
  tune = plan_of('tune_figure1', runs_dir='/r')
  assert {r.entry for r in tune} == {'experiments.figure1'}
  command = plan.command(tune[0], 'configs/figure1.py')
  assert command[1:4] == ['-m', 'experiments.figure1', '--config=configs/figure1.py']
  assert [(r.point, r.config.activation, r.config.learning_rate) for r in tune[::3]] == [
      ('relu lr=0.01', 'relu', 0.01), ('relu lr=0.3', 'relu', 0.3), ('tanh lr=0.1', 'tanh', 0.1)]
  assert {r.seed for r in tune} == {100}
  assert plan.command(plan_of('lrn')[0], 'configs/proxy.py')[2] == 'alexnet.main'
  relu = plan_of('relu', runs_dir='/r')
  assert {r.entry for r in relu} == {'experiments.figure1'}
  assert [(r.point, r.config.activation, r.config.learning_rate, r.seed) for r in relu[::5]] == [
      ('relu', 'relu', 0.01, 0), ('tanh', 'tanh', 0.03, 0)]
  assert [r.seed for r in relu] == [0, 1, 2, 3, 4] * 2


def test_steps_to_a_training_error():
  steps, errors = np.array([20, 40, 60, 80]), np.array([0.6, 0.3, 0.25, 0.2])
  assert report.steps_to(0.25, steps, errors) == 60 and report.steps_to(0.1, steps, errors) is None
  assert report.train_error_targets(types.SimpleNamespace(TRAIN_ERROR_TARGET=0.5)) == (0.5,)
  assert report.train_error_targets(types.SimpleNamespace(TRAIN_ERROR_TARGET=(0.25, 0.1))) == (0.25, 0.1)
  assert report.train_error_targets(types.SimpleNamespace()) == ()


def test_the_late_change_compares_the_last_tenth_of_training_with_the_tenth_before():
  steps = np.arange(10, 1010, 10)  # logged every 10 steps to step 1000.
  errors = np.where(steps > 900, 0.10, np.where(steps > 800, 0.12, 0.5))
  assert report.late_change(steps, errors) == pytest.approx(-0.02)
  assert report.late_change(steps, np.full(len(steps), 0.1)) == pytest.approx(0.0)
  assert report.late_change(steps[:3], errors[:3]) is None
  drops_config = types.SimpleNamespace(drop_epochs=(7.0, 10.0, 13.0))
  assert report.fixed_drops(drops_config, {'epoch': 12.0}) == [{'epoch': 7.0}, {'epoch': 10.0}]


# --------------------------------------------------------------------------------------------- end to end (slow)

def run_sweep(*args, timeout=600):
  return subprocess.run([sys.executable, '-m', 'experiments.sweep', *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)


@pytest.mark.slow
def test_smoke_sweep_writes_tables_and_plots_and_a_rerun_skips(tmp_path):
  result = run_sweep('--sweep=experiments/sweeps/smoke.py', f'--workdir={tmp_path}', '--jobs=2')
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert '4 to run' in result.stdout and '[4 done | 0 running | 0 left]' in result.stdout
  with open(tmp_path / 'results.csv') as f:
    rows = list(csv.DictReader(f))
  assert [(r['point'], r['seed']) for r in rows] == [('lrn=paper', '0'), ('lrn=paper', '1'), ('lrn=none', '0'),
                                                     ('lrn=none', '1')]
  assert {r['lrn'] for r in rows[:2]} == {'paper'} and {r['lrn'] for r in rows[2:]} == {'none'}
  assert all(len(r['commit']) == 40 and r['dirty'] in ('True', 'False') for r in rows)
  for r in rows:
    assert float(r['test_top1_error']) < 0.75 and float(r['minival_top1_error']) < 0.75  # chance is 0.75
    assert int(r['steps']) == 120
  table = (tmp_path / 'results.md').read_text()
  assert '| lrn=paper | 2 |' in table and 'Δ test_top1_error vs lrn=paper (points) [95% CI]' in table
  # The contrast paired by seed: 2 pairs, a mean difference with its interval, the p values and the MDE.
  lines = table.splitlines()
  header = [c.strip() for c in next(l for l in lines if l.startswith('| point |')).strip('|').split('|')]
  cells = dict(zip(header, [c.strip() for c in next(l for l in lines if l.startswith('| lrn=none |')).strip('|')
                            .split('|')], strict=True))
  differences = [100 * (float(rows[2 + s]['test_top1_error']) - float(rows[s]['test_top1_error'])) for s in (0, 1)]
  assert cells['pairs'] == '2'
  assert cells['Δ test_top1_error vs lrn=paper (points) [95% CI]'].startswith(f'{np.mean(differences):+.2f} [')
  assert cells['p (sign-flip)'] in ('0.5', '1')  # the exact sign-flip p of two pairs: 2/4 or 4/4.
  for png in ('test_error.png', 'minival_curves.png', 'train_curves.png'):
    assert (tmp_path / png).read_bytes()[:4] == b'\x89PNG', png
  summaries = {p: p.stat().st_mtime for p in tmp_path.glob('*/summary.json')}
  assert len(summaries) == 4

  again = run_sweep('--sweep=experiments/sweeps/smoke.py', f'--workdir={tmp_path}', '--jobs=2')
  assert again.returncode == 0 and '4 finished before, 0 to run' in again.stdout
  assert {p: p.stat().st_mtime for p in tmp_path.glob('*/summary.json')} == summaries


def write_sweep(path, lrns, steps):
  path.write_text(f"""
BASE = 'configs/smoke.py'
SHORT = {{'num_train_steps': {steps}, 'checkpoint_every_steps': 10, 'eval_every_steps': 50, 'log_every_steps': 10}}


def get_hyper(h, base):
  return h.sweep('config.lrn', {lrns!r})
""")
  return str(path)


@pytest.mark.slow
def test_a_killed_run_resumes_and_a_failing_point_is_reported(tmp_path):
  long_sweep = write_sweep(tmp_path / 'long.py', ['paper'], steps=400)
  workdir = tmp_path / 'out'
  proc = subprocess.Popen([sys.executable, '-m', 'experiments.sweep', f'--sweep={long_sweep}', f'--workdir={workdir}'],
                          cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
  checkpoints = workdir / 'base,seed=0' / 'checkpoints'
  deadline = time.time() + 300
  while time.time() < deadline and not any(c.name.isdigit() for c in checkpoints.glob('*')):
    assert proc.poll() is None, 'the sweep ended before its first checkpoint'
    time.sleep(0.1)
  os.killpg(proc.pid, signal.SIGKILL)  # the runner and its run, mid-training.
  proc.wait()
  assert not (workdir / 'base,seed=0' / 'summary.json').exists()

  # Rerun with one more point that fails: the killed run resumes, the failure is reported, the sweep exits 1.
  mixed = write_sweep(tmp_path / 'long.py', ['paper', 'bogus'], steps=400)
  result = run_sweep(f'--sweep={mixed}', f'--workdir={workdir}')
  assert result.returncode == 1, result.stdout[-3000:]
  log = (workdir / 'base,seed=0' / 'log.txt').read_text()
  assert 'Resumed from' in log
  summary = json.loads((workdir / 'base,seed=0' / 'summary.json').read_text())
  assert summary['step'] == 400
  assert 'FAILED lrn=bogus,seed=0' in result.stdout and "lrn must be one of" in result.stdout
  assert '1 runs failed: lrn=bogus,seed=0' in result.stdout
  assert '1 of 2 runs finished' in result.stdout


def test_a_workdir_from_another_config_is_refused(tmp_path):
  run = plan_of('lrn', runs_dir=str(tmp_path))[3]  # lrn=caffe, seed 0
  assert plan.check_reusable(run) is None  # nothing there yet
  os.makedirs(run.workdir)
  other = run.config.copy_and_resolve_references()
  other.learning_rate = 0.5
  (tmp_path / run.slug / 'config.json').write_text(other.to_json_best_effort())
  assert "fields ['learning_rate']" in plan.check_reusable(run)
  (tmp_path / run.slug / 'config.json').write_text(run.config.to_json_best_effort())
  assert plan.check_reusable(run) is None
  # Run dirs from before a field existed (at its default) or run elsewhere (another mesh) are the same run.
  older = json.loads(run.config.to_json_best_effort())
  del older['kernels']
  older['mesh_data'], older['mesh_tower'] = 1, 2
  (tmp_path / run.slug / 'config.json').write_text(json.dumps(older))
  assert plan.check_reusable(run) is None


def test_jobs_split_the_gpus_else_the_cpu_cores(monkeypatch):
  monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0,1,2,3')
  assert local.slots(2) == [({'CUDA_VISIBLE_DEVICES': '0,1'}, None), ({'CUDA_VISIBLE_DEVICES': '2,3'}, None)]
  with pytest.raises(ValueError, match='--jobs=5 but 4 GPUs'):
    local.slots(5)
  monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
  monkeypatch.setattr(local.shutil, 'which', lambda _: None)
  monkeypatch.setattr(local.os, 'sched_getaffinity', lambda _: {0, 1, 2, 3})
  assert local.slots(2) == [({}, {0, 1}), ({}, {2, 3})]


def test_the_schedule_line_counts_unannealed_runs_and_old_records_give_their_drops():
  """A run recorded before summary.json held lr_drops gives its drops from the rate in its minival history; a point
  on the plateau schedule gets a line with its runs' drops and how many trained under an epoch at a reduced rate."""
  history = [{'step': s, 'learning_rate': lr} for s, lr in ((100, 0.01), (200, 0.01), (300, 0.001), (396, 0.001))]
  old = {'step': 400, 'epoch': 4.0, 'minival_history': history}
  assert records.drops(old) == [{'step': 300, 'epoch': 3.0, 'learning_rate': 0.001}]
  rows = [{'schedule': 'plateau', 'lr_drops': n, 'epochs_at_reduced_rate': e, 'end_reason': end}
          for n, e, end in ((3, 9.0, 'plateau rule done'), (1, 0.5, 'num_epochs'), (0, 0.0, 'num_epochs'))]
  assert report.schedule_note('proxy', rows) == (
      'The schedule of proxy: drops per run 3, 1, 0; epochs at a reduced rate 9.0, 0.5, 0.0; 2 of 3 runs unannealed '
      '(under one epoch at a reduced rate); ended by: num_epochs, plateau rule done.')
  assert report.schedule_note('cosine', [dict(rows[0], schedule='cosine')]) == ''


def test_a_finished_run_of_another_config_is_not_reused(tmp_path):
  """A runs_dir entry finished under another config (here: another plateau threshold) is neither skipped as done nor
  read into the tables; the same entry under another schedule's unread settings is the same run."""
  module = sweep_file.load(os.path.join(REPO, 'experiments/sweeps/schedules.py'))
  planned = plan.plan(module, sweep_file.load_config(module.BASE), 'full', str(tmp_path))
  plateau, cosine = planned[0], planned[3]
  for run, change in ((plateau, {'plateau_threshold': 0.5}), (cosine, {'plateau_threshold': 0.5})):
    os.makedirs(run.workdir)
    saved = json.loads(run.config.to_json_best_effort()) | change
    (Path(run.workdir) / 'config.json').write_text(json.dumps(saved))
    (Path(run.workdir) / 'summary.json').write_text('{}')
  assert 'holds a run of another config' in plan.check_reusable(plateau)
  assert not local.finished(plateau)
  assert plan.check_reusable(cosine) is None and local.finished(cosine)


def test_a_recorded_command_holds_no_path_of_this_machine():
  args = [sys.executable, '-m', 'alexnet.main', '--config=configs/default.py',
          f'--workdir={REPO}/runs/x/conv_features=16-32,seed=0', '--config.seed=0']
  assert local.shell_line(args) == ("python -m alexnet.main --config=configs/default.py "
                                             "'--workdir=runs/x/conv_features=16-32,seed=0' --config.seed=0\n")


def test_a_queue_goes_seed_by_seed_into_each_files_runs_dir(tmp_path, capsys):
  files = ','.join(os.path.join(SWEEPS, f'{n}.py') for n in ('towers', 'lrn', 'pooling'))
  runs, _ = run_queue.run_sweep(files, str(tmp_path), schedule='full', dry_run=True)
  # Five arms, the reference shared: each seed's five runs before the next seed's, so a queue stopped part way
  # leaves complete pairs.
  assert len(runs) == 45 and [r.seed for r in runs] == [s for s in range(9) for _ in range(5)]
  assert [r.point for r in runs[:5]] == ['two towers', 'fused', 'half-width one tower', 'lrn=none',
                                         'pool=non_overlapping']
  # Their sweep files' RUNS_DIR, not the workdir; on another base, the workdir's own runs/ (RUNS_DIR holds runs of
  # the files' BASE only).
  assert {os.path.dirname(r.workdir) for r in runs} == {'runs/ablations/drops'}
  other, _ = run_queue.run_sweep(files, str(tmp_path), base_path='configs/smoke.py', dry_run=True)
  assert {os.path.dirname(r.workdir) for r in other} == {str(tmp_path / 'runs')}
  same, _ = run_queue.run_sweep(files, str(tmp_path), base_path='./configs/proxy_drops.py', dry_run=True)
  assert {os.path.dirname(r.workdir) for r in same} == {'runs/ablations/drops'}  # --base naming the files' own BASE.
  assert 'runs/ablations/drops/base,seed=0  [' in capsys.readouterr().out
