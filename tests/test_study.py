"""The study's table from committed per-run rows: pairing by seed, Holm over the planned family, verdicts by rule."""
import csv

import numpy as np
import pytest

from experiments import stats
from experiments import study_table

SEEDS = range(5)


def write_rows(path, errors_by_point):
  path.mkdir(parents=True)
  with open(path / 'results.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=['run', 'point', 'seed', 'test_top1_error'])
    writer.writeheader()
    for point, errors in errors_by_point.items():
      for seed, error in zip(SEEDS, errors, strict=True):
        writer.writerow({'run': f'{point},seed={seed}', 'point': point, 'seed': seed, 'test_top1_error': error})


def test_study_pairs_by_seed_adjusts_across_questions_and_prints_verdicts(tmp_path):
  reference = [0.100, 0.110, 0.095, 0.105, 0.120]  # seed-to-seed spread far larger than the paired differences.
  write_rows(tmp_path / 'lrn', {
      'lrn=paper': reference,
      # +2 points, as the paper
      'lrn=none': [e + d for e, d in zip(reference, [0.020, 0.021, 0.019, 0.020, 0.020], strict=True)],
      # nothing
      'lrn=caffe': [e + d for e, d in zip(reference, [0.003, -0.004, 0.002, -0.002, 0.001], strict=True)],
      # no claim
      'lrn=batchnorm': [e + d for e, d in zip(reference, [-0.030, -0.031, -0.029, -0.030, -0.030], strict=True)],
  })
  rows, text = study_table.study(str(tmp_path), questions=('lrn', 'pooling'))
  by_contrast = {r['contrast']: r for r in rows}
  none = by_contrast['lrn=none − lrn=paper']
  assert none['n'] == 5 and none['mean'] == pytest.approx(2.0)
  # Four planned contrasts (three LRN, one pooling not run): Holm multiplies the smallest p by 4 at most.
  p_values = [by_contrast[c]['p'] for c in ('lrn=none − lrn=paper', 'lrn=caffe − lrn=paper',
                                            'lrn=batchnorm − lrn=paper')]
  assert [by_contrast[c]['p_holm'] for c in ('lrn=none − lrn=paper', 'lrn=caffe − lrn=paper',
                                             'lrn=batchnorm − lrn=paper')] == pytest.approx(
                                                 stats.holm(p_values + [float('nan')])[:3])
  assert none['verdict'] == 'agrees with the paper'
  assert by_contrast['lrn=batchnorm − lrn=paper']['verdict'] == 'difference detected'
  caffe = by_contrast['lrn=caffe − lrn=paper']
  assert caffe['verdict'].startswith('no effect detected (MDE ') and caffe['p_holm'] > 0.05
  caffe_sd = 100 * np.std([0.003, -0.004, 0.002, -0.002, 0.001], ddof=1)  # in points, as the table.
  assert caffe['mde'] == pytest.approx(stats.mde(caffe_sd, 5, 0.05 / 4), rel=1e-6)  # at the family's 0.05 / m.
  assert by_contrast['pool=non_overlapping − pool=overlapping']['verdict'] == 'not run'
  # The sign-flip p of five same-signed differences is its floor, 2 / 32, whatever their size.
  assert none['p_sign_flip'] == 2 / 32
  assert '| lrn | lrn=none − lrn=paper | test_top1_error (points) | 5 | +2.00 [' in text
  assert "study's 4 testable contrasts" in text


def test_unpaired_seeds_are_left_out_and_untestable_contrasts_say_so(tmp_path):
  write_rows(tmp_path / 'augmentation', {'crop+flip': [0.1] * 5, 'none': [0.12, 0.13, 0.12, 0.14, 0.12]})
  rows, _ = study_table.study(str(tmp_path), questions=('augmentation',))
  by_contrast = {r['contrast']: r for r in rows}
  assert by_contrast['crop+flip+PCA − crop+flip']['verdict'] == 'cannot test here'
  assert by_contrast['none − crop+flip']['n'] == 5
  # Holm's family is the one testable contrast: its adjusted p is its p.
  assert by_contrast['none − crop+flip']['p_holm'] == pytest.approx(by_contrast['none − crop+flip']['p'])
