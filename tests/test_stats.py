"""The study's statistics on cases with known answers: paired t, the exact sign-flip p, Holm, the MDE, the verdict."""
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from experiments.study import stats


def test_paired_t_on_a_hand_computed_case():
  # d = 1..5: mean 3, sd sqrt(2.5), se 0.7071, t = 4.243 on 4 degrees of freedom.
  mean, low, high, p = stats.paired_t([1, 2, 3, 4, 5])
  assert mean == 3.0
  half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) = 2.776445.
  assert (low, high) == pytest.approx((3 - half, 3 + half), rel=1e-6)
  assert p == pytest.approx(0.013236, abs=2e-6)
  # The same as scipy's paired test on the two arms the differences came from.
  a, b = np.array([10.0, 12, 9, 14, 11]), np.array([9.0, 10, 6, 10, 6])
  assert stats.paired_t(a - b)[3] == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue, rel=1e-12)


def test_paired_t_edge_cases():
  assert math.isnan(stats.paired_t([0.4])[3])
  assert stats.paired_t([0.5, 0.5, 0.5])[3] == 0.0 and stats.paired_t([0.0, 0.0])[3] == 1.0


def test_sign_flip_p_is_exact():
  assert stats.sign_flip_p([1, 2, 3, 4, 5]) == 2 / 32  # only all-plus and all-minus reach |mean| = 3: the floor.
  assert stats.sign_flip_p([1, 2, 3, 4, 5, 6]) == 2 / 64
  assert stats.sign_flip_p([1, -1]) == 1.0
  # d = (3, 1, -1), observed sum 3: the patterns' sums are 3, 5, 1, 3 and their negatives; 6 of 8 reach |3|.
  assert stats.sign_flip_p([3, 1, -1]) == 0.75
  # d = (4, 1, 1): sums 6, 4, 4, 2 and negatives; |sum| >= 6 only for (+,+,+) and (-,-,-): p = 2/8.
  assert stats.sign_flip_p([4, 1, 1]) == 0.25


def test_holm_step_down():
  adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
  # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06.
  assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
  # A contrast not run (NaN) stays NaN but still counts in the family as p = 1.
  with_missing = stats.holm([0.01, math.nan])
  assert with_missing[0] == pytest.approx(0.02) and math.isnan(with_missing[1])
  assert stats.holm([0.6, 0.9]) == [1.0, 1.0]


def test_mde_has_the_target_power():
  # Large n: the normal approximation (z_0.975 + z_0.8) sd / sqrt(n) = 2.8016 / sqrt(n).
  assert stats.mde(1.0, 2000) == pytest.approx(2.8016 / math.sqrt(2000), rel=2e-3)
  # n = 5 at 0.05: 1.68 sd (its power is checked by simulation below, at n = 6).
  assert stats.mde(1.0, 5) == pytest.approx(1.68, abs=0.005)
  assert stats.mde(2.0, 5) == pytest.approx(2 * stats.mde(1.0, 5))
  assert stats.mde(1.0, 5, alpha=0.005) > stats.mde(1.0, 5)
  # A stricter level never makes the MDE smaller: at n = 5 scipy's noncentral t gives NaN for the lower tail at
  # 0.05 / 11 from an effect of 3.1 sd on, which must not read as power 1.
  levels = [stats.mde(1.0, 5, alpha=0.05 / m) for m in range(1, 21)]
  assert levels == sorted(levels)
  assert stats.power(3.1, 1.0, 5, 0.05 / 11) == pytest.approx(0.7626, abs=1e-3)
  # Monte Carlo: at the MDE, the paired t test at 0.05 rejects in 80% of samples (+- 1%).
  rng = np.random.default_rng(0)
  effect = stats.mde(1.0, 6)
  samples = rng.normal(effect, 1.0, size=(40_000, 6))
  t = samples.mean(1) / (samples.std(1, ddof=1) / math.sqrt(6))
  assert np.mean(np.abs(t) > scipy_stats.t.ppf(0.975, 5)) == pytest.approx(0.8, abs=0.01)
  assert math.isnan(stats.mde(1.0, 1))


def test_verdict_rule():
  assert stats.verdict(-1.2, 0.01, -1.4, 0.5) == 'agrees with the paper'
  assert stats.verdict(+1.2, 0.01, -1.4, 0.5) == 'opposite to the paper'
  assert stats.verdict(+1.2, 0.2, -1.4, 0.73) == 'no effect detected (MDE 0.73 points)'
  assert stats.verdict(+1.2, 0.01, None, 0.5) == 'difference detected'
  assert stats.verdict(0.0, 1.0, -1.0, 0.5, untestable='grey images') == 'cannot test here'


def test_pair_by_seed_uses_common_seeds_only():
  seeds, d = stats.pair_by_seed({0: 1.0, 1: 2.0, 2: 4.0}, {1: 1.5, 2: 3.0, 3: 9.0})
  assert seeds == [1, 2] and d.tolist() == [0.5, 1.0]


@pytest.mark.parametrize('d', [[0.1, -0.2, 0.15, 0.05, -0.1], [0.4, 0.45, 0.5, 0.35, 0.6], [1.0, -1.0, 2.0, 0.5, 0.0]])
def test_tost_is_the_larger_of_two_one_sided_t_tests(d):
  """Against scipy's one-sided one-sample t tests of the differences against -margin and +margin."""
  margin = 0.5
  lower = scipy_stats.ttest_1samp(d, -margin, alternative='greater').pvalue
  upper = scipy_stats.ttest_1samp(d, margin, alternative='less').pvalue
  assert stats.tost_p(d, margin) == pytest.approx(max(lower, upper), rel=1e-9)


def test_equivalence_needs_the_interval_inside_the_margin():
  tight, wide = [0.02, -0.03, 0.01, 0.0, -0.01], [0.8, -0.9, 0.6, -0.7, 0.3]
  assert stats.tost_p(tight, 0.5) < 1e-4 and stats.tost_p(wide, 0.5) > 0.05  # means near 0 both; spreads differ.
  # At level alpha, TOST rejects exactly when the (1 - 2 alpha) interval lies inside the margin.
  for d in (tight, wide, [0.4, -0.5, 0.3, -0.2, 0.1]):
    _, low, high, _ = stats.paired_t(d, confidence=0.90)
    assert (stats.tost_p(d, 0.5) < 0.05) == (-0.5 < low and high < 0.5)
  assert stats.equivalence_verdict(0.01, 0.5) == 'equivalent within ±0.5 points'
  assert stats.equivalence_verdict(0.2, 0.5) == 'equivalence not shown (±0.5 points)'
  assert stats.equivalence_verdict(0.01, 0.5, untestable='grey') == 'cannot test here'
  assert math.isnan(stats.tost_p([0.1], 0.5))
