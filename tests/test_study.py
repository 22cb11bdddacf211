"""The study's table from committed per-run rows: pairing by seed, Holm over the planned family, verdicts by rule."""
import csv
import types

import numpy as np
import pytest

from experiments.study import contrasts
from experiments.study import stats
from experiments.study import table
from experiments.sweep import sweep_file

SEEDS = range(5)


def write_rows(path, errors_by_point):
  path.mkdir(parents=True)
  with open(path / 'results.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=['run', 'point', 'seed', 'test_top1_error', 'train_top1_error_late_change'])
    writer.writeheader()
    for point, errors in errors_by_point.items():
      for seed, error in zip(SEEDS, errors, strict=True):  # every run converged (a question may require it).
        writer.writerow({'run': f'{point},seed={seed}', 'point': point, 'seed': seed, 'test_top1_error': error,
                         'train_top1_error_late_change': 0.0})


def test_study_pairs_by_seed_adjusts_across_questions_and_prints_verdicts(tmp_path):
  reference = [0.100, 0.110, 0.095, 0.105, 0.120]  # seed-to-seed spread far larger than the paired differences.
  shifted = lambda deltas: [e + d for e, d in zip(reference, deltas, strict=True)]
  # +2 points, as the paper.
  write_rows(tmp_path / 'lrn', {'lrn=paper': reference, 'lrn=none': shifted([0.020, 0.021, 0.019, 0.020, 0.020])})
  # Nothing.
  write_rows(tmp_path / 'pooling', {'pool=overlapping': reference,
                                    'pool=non_overlapping': shifted([0.003, -0.004, 0.002, -0.002, 0.001])})
  # No claim of a difference (fused has an equivalence margin instead); half-width not run.
  write_rows(tmp_path / 'towers', {'two towers': reference, 'fused': shifted([-0.030, -0.031, -0.029, -0.030, -0.030])})
  rows, text = table.study(str(tmp_path), questions=('lrn', 'pooling', 'towers'))
  by_contrast = {r['contrast']: r for r in rows}
  none = by_contrast['lrn=none − lrn=paper']
  assert none['n'] == 5 and none['mean'] == pytest.approx(2.0)
  # Five planned hypotheses: four contrasts (half-width not run) and fused's equivalence test; Holm multiplies the
  # smallest p by 5 at most.
  names = ('lrn=none − lrn=paper', 'pool=non_overlapping − pool=overlapping', 'fused − two towers')
  p_values = [by_contrast[c]['p'] for c in names]
  fused = by_contrast['fused − two towers']
  p_tost = stats.tost_p(100 * (np.array(shifted([-0.030, -0.031, -0.029, -0.030, -0.030])) - reference), 0.5)
  assert [by_contrast[c]['p_holm'] for c in names] + [fused['p_tost_holm']] == pytest.approx(
      stats.holm(p_values + [float('nan'), p_tost])[:3] + stats.holm(p_values + [float('nan'), p_tost])[4:])
  assert none['verdict'] == 'agrees with the paper'
  assert fused['verdict'].startswith('difference detected; equivalence not shown (±0.5 points)')
  pooling = by_contrast['pool=non_overlapping − pool=overlapping']
  assert pooling['verdict'].startswith('no effect detected (MDE ') and pooling['p_holm'] > 0.05
  pooling_sd = 100 * np.std([0.003, -0.004, 0.002, -0.002, 0.001], ddof=1)  # in points, as the table.
  assert pooling['mde'] == pytest.approx(stats.mde(pooling_sd, 5, 0.05 / 5), rel=1e-6)  # at the family's 0.05 / m.
  assert by_contrast['half-width one tower − two towers']['verdict'] == 'not run'
  # The sign-flip p of five same-signed differences is its floor, 2 / 32, whatever their size.
  assert none['p_sign_flip'] == 2 / 32
  assert '| lrn | lrn=none − lrn=paper | test_top1_error (points) | 5 | +2.00 [' in text
  assert "the study's 5 tests (4 contrasts, 1 of them also tested for equivalence" in text


def test_the_runs_table_counts_only_the_runs_the_sweep_file_plans(tmp_path):
  # lrn plans lrn=paper and lrn=none over sweeps.DROPS_SEEDS (18 runs); rows of a point it no longer plans (Caffe's
  # form, from an earlier design) are not its runs.
  write_rows(tmp_path / 'lrn', {'lrn=paper': [0.1] * 5, 'lrn=none': [0.11] * 5, 'lrn=caffe': [0.12] * 5})
  _, text = table.study(str(tmp_path), questions=('lrn',))
  assert '| lrn | 10 of 18 |' in text


def test_unpaired_seeds_are_left_out_and_untestable_contrasts_say_so(tmp_path):
  write_rows(tmp_path / 'augmentation', {'crop+flip': [0.1] * 5, 'none': [0.12, 0.13, 0.12, 0.14, 0.12]})
  rows, _ = table.study(str(tmp_path), questions=('augmentation',))
  by_contrast = {r['contrast']: r for r in rows}
  assert by_contrast['crop+flip+PCA − crop+flip']['verdict'] == 'cannot test here'
  assert by_contrast['none − crop+flip']['n'] == 5
  # Holm's family is the one testable contrast: its adjusted p is its p.
  assert by_contrast['none − crop+flip']['p_holm'] == pytest.approx(by_contrast['none − crop+flip']['p'])


def write_overfit_rows(path, test_errors, train_end, minival):
  """The augmentation question's rows with the columns its regime check reads."""
  path.mkdir(parents=True)
  fields = ['run', 'point', 'seed', 'test_top1_error', 'train_top1_error_end', 'minival_top1_error']
  with open(path / 'results.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    for point, errors in test_errors.items():
      for seed, error in zip(SEEDS, errors, strict=True):
        writer.writerow({'run': f'{point},seed={seed}', 'point': point, 'seed': seed, 'test_top1_error': error,
                         'train_top1_error_end': train_end[point], 'minival_top1_error': minival[point]})


@pytest.mark.parametrize('train_end, verdict', [(0.02, 'agrees with the paper'), (0.09, 'cannot test here')])
def test_a_contrast_is_read_only_where_its_arm_overfits(tmp_path, train_end, verdict):
  # 'none' is 2 points worse on test in every seed; its minival error is 10%. Training error 2% at the end is a gap
  # of 8 points (it overfits: the contrast is read); 9% is a gap of 1 point, under the design's 3 (no verdict).
  reference = [0.100, 0.110, 0.095, 0.105, 0.120]
  write_overfit_rows(tmp_path / 'augmentation', {'crop+flip': reference, 'none': [e + 0.02 for e in reference]},
                     train_end={'crop+flip': 0.12, 'none': train_end}, minival={'crop+flip': 0.1, 'none': 0.1})
  rows, text = table.study(str(tmp_path), questions=('augmentation',))
  none = {r['contrast']: r for r in rows}['none − crop+flip']
  assert none['verdict'] == verdict and none['mean'] == pytest.approx(2.0)
  gap = 100 * (0.1 - train_end)
  assert f'its minival error ends {gap:.2f} points above its training error (mean over 5 runs' in text
  assert ('does not overfit' in text) == (gap < 3)
  # Held in Holm's family either way, with p = 1 where the regime was missed (as a contrast not run).
  assert "study's 1 testable contrasts" in text
  assert none['p_holm'] == (1.0 if gap < 3 else pytest.approx(none['p']))


def test_a_sweeps_own_table_states_its_regime_check():
  from experiments.sweep import report, sweep_file  # pylint: disable=g-import-not-at-top
  run = {'test_top5_error': 0.0, 'images_per_sec': 500.0, 'wall_seconds': 60.0, 'minival_top1_error': 0.1}
  rows = [{**run, 'point': 'dropout=0.5', 'seed': s, 'test_top1_error': 0.10, 'train_top1_error_end': 0.12}
          for s in SEEDS] + [{**run, 'point': 'dropout=0', 'seed': s, 'test_top1_error': 0.11,
                              'train_top1_error_end': 0.115 - 0.005 * s} for s in SEEDS]
  table = report.markdown(rows, sweep_file.question('dropout'), 'Dropout')
  # dropout=0's training error ends at 11.5..9.5 %, 10.5 % on average: 0.5 points above its minival error of 10 %,
  # under the design's 3; the reference needs no check.
  assert ('The regime: dropout=0 does not overfit: its minival error ends 0.50 points below its training error '
          '(mean over 5 runs; the design asks for at least 3 above).') in table
  assert table.count('The regime:') == 1


def test_an_equivalence_margin_adds_a_test_to_the_family_and_a_verdict(tmp_path, monkeypatch):
  """towers with EQUIVALENCE = {'fused': 0.5}: fused within ±0.5 of two towers is shown equivalent, Holm counts the
  equivalence test as one more hypothesis, and half-width (no margin) gets no equivalence verdict."""
  reference = [0.100, 0.110, 0.095, 0.105, 0.120]
  write_rows(tmp_path / 'towers', {
      'two towers': reference,
      'fused': [e + d for e, d in zip(reference, [0.0005, -0.0004, 0.0002, -0.0003, 0.0001], strict=True)],
      'half-width one tower': [e + 0.017 for e in reference],
  })
  towers = sweep_file.question('towers')
  monkeypatch.setattr(towers, 'EQUIVALENCE', {'fused': 0.5}, raising=False)
  monkeypatch.setattr(sweep_file, 'question', lambda name: towers)
  rows, text = table.study(str(tmp_path), questions=('towers',))
  by_contrast = {r['contrast']: r for r in rows}
  fused, half = by_contrast['fused − two towers'], by_contrast['half-width one tower − two towers']
  d = 100 * np.array([0.0005, -0.0004, 0.0002, -0.0003, 0.0001])
  p_difference = [fused['p'], half['p']]
  assert [fused['p_holm'], half['p_holm'], fused['p_tost_holm']] == pytest.approx(
      stats.holm(p_difference + [stats.tost_p(d, 0.5)]))
  assert fused['verdict'].startswith('no effect detected (MDE ')
  assert '; equivalent within ±0.5 points (TOST p Holm ' in fused['verdict']
  assert half['verdict'] == 'agrees with the paper' and 'equivalen' not in half['verdict']
  assert "study's 3 tests (2 contrasts, 1 of them also tested for equivalence" in text
  assert fused['mde'] == pytest.approx(stats.mde(float(np.std(d, ddof=1)), 5, 0.05 / 3), rel=1e-6)


def test_the_convergence_check_holds_back_every_contrast_of_a_question_still_learning(tmp_path):
  rows = [{'run': f'{p},seed={s}', 'point': p, 'seed': s, 'test_top1_error': 0.1,
           'train_top1_error_late_change': change} for p, change in (('a', -0.001), ('b', -0.012)) for s in SEEDS]
  module = types.SimpleNamespace(REFERENCE='a', MUST_CONVERGE=0.5)
  text, fails = contrasts.convergence_check(module, rows)
  assert fails and text.startswith('not converged: b (training error over the last tenth of training minus the '
                                   'tenth before, mean over runs, in points: a -0.10, b -1.20; the design allows at '
                                   'most 0.5)')
  [b] = contrasts.contrasts('q', module, rows)
  assert b.regime_fails and b.regime == text
  rows = [dict(r, train_top1_error_late_change=-0.002) for r in rows]
  text, fails = contrasts.convergence_check(module, rows)
  assert not fails and text.startswith('every arm converged')
  # An arm whose runs have no late change measured fails the check, it does not pass it by being left out.
  rows[-1]['train_top1_error_late_change'] = ''
  rows[-2]['train_top1_error_late_change'] = 'nan'
  text, fails = contrasts.convergence_check(module, [r for r in rows if r['point'] == 'a'] + rows[-2:])
  assert fails and text.startswith('not converged: b (') and 'a -0.20, b not measured;' in text
  assert contrasts.convergence_check(types.SimpleNamespace(), rows) == ('', False)
