"""A study's design from its pilot (experiments/design.py): the fixed drops, the seeds a contrast needs."""
import math

import numpy as np
import pytest

from experiments import design
from experiments.study import stats


def summary(drops, end, error=0.1):
  drops = [{'step': 100 * e, 'epoch': e, 'learning_rate': 0.01 / 10 ** (i + 1)} for i, e in enumerate(drops)]
  return {'epoch': end, 'step': 100 * end, 'top1_error': error, 'end_reason': 'plateau rule done', 'lr_drops': drops}


def test_the_fixed_drops_are_the_pilots_medians_rounded_and_the_run_keeps_its_last_rate_as_long():
  pilot = [summary([6.98, 9.98, 12.97], 15.96), summary([5.99, 8.98, 11.97], 14.97),
           summary([6.98, 10.98, 13.97], 16.96)]
  medians, end, fixed, length = design.schedule(pilot)
  assert medians == [6.98, 9.98, 12.97] and end == 15.96
  assert fixed == [7, 10, 13] and length == 16  # the rule trained 2.99 epochs after its last drop: 3 more.


def test_seeds_to_detect_is_the_first_n_whose_mde_reaches_the_effect():
  n = design.seeds_to_detect(1.4, 1.0, 0.05 / 12, 200)
  assert stats.mde(1.0, n, 0.05 / 12) <= 1.4 < stats.mde(1.0, n - 1, 0.05 / 12)
  assert design.seeds_to_detect(0.5, 1.0, 0.05, 4) is None


def test_tost_power_matches_a_simulation():
  rng = np.random.default_rng(0)
  n, sd, margin, alpha = 12, 1.0, 0.8, 0.05
  d = rng.normal(0.0, sd, size=(20000, n))
  shown = np.mean([stats.tost_p(row, margin) < alpha for row in d[:4000]])
  assert design.tost_power(margin, sd, n, alpha) == pytest.approx(shown, abs=0.03)
  n_needed = design.seeds_for_equivalence(margin, sd, alpha, 200)
  assert design.tost_power(margin, sd, n_needed, alpha) >= 0.8 > design.tost_power(margin, sd, n_needed - 1, alpha)
  assert not math.isnan(design.tost_power(margin, sd, 3, alpha))
