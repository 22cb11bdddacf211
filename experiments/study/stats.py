"""Paired statistics for a study's contrasts, and the rule that turns them into a verdict.

Arms of a sweep share their seeds: seed s of every point sees the same batch order, augmentation draws and dropout
masks, so a contrast is a set of per-seed differences d_s = point_s - reference_s. For those differences:

- `paired_t`: their mean, its 95% confidence interval and the two-sided paired-t p value;
- `sign_flip_p`: the exact two-sided permutation p value (every sign pattern of the d_s); it cannot go below
  2 / 2^n (0.0625 at n = 5), so it is reported beside the t test, not used for the verdict;
- `holm`: Holm's step-down adjustment of a family's p values (the whole study is one family);
- `mde`: the smallest true mean difference the t test detects with 80% power at a given level, from the measured
  spread of the d_s and n (the noncentral t distribution);
- `tost_p`: the two one-sided tests of equivalence within a margin stated before the runs (a claim that two arms are
  the same needs it: "no effect detected" is not "agrees");
- `verdict` and `equivalence_verdict`: the rules the tables print; no verdict is written by hand.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Sequence

import numpy as np
from scipy import integrate
from scipy import optimize
from scipy import stats as scipy_stats

ALPHA = 0.05
POWER = 0.8


def pair_by_seed(point: dict[int, float], reference: dict[int, float]) -> tuple[list[int], np.ndarray]:
  """(seeds, point - reference) over the seeds both arms finished."""
  seeds = sorted(set(point) & set(reference))
  return seeds, np.array([point[s] - reference[s] for s in seeds], np.float64)


def paired_t(d: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float, float]:
  """(mean, CI low, CI high, two-sided p) of the paired t test on differences `d`; NaN where n < 2."""
  d = np.asarray(d, np.float64)
  n = len(d)
  if n < 2:
    return (float(d.mean()) if n else math.nan), math.nan, math.nan, math.nan
  mean, sd = float(d.mean()), float(d.std(ddof=1))
  if sd == 0.0:
    return mean, mean, mean, (1.0 if mean == 0.0 else 0.0)
  se = sd / math.sqrt(n)
  half = scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * se
  p = 2 * scipy_stats.t.sf(abs(mean) / se, n - 1)
  return mean, mean - half, mean + half, float(p)


def sign_flip_p(d: Sequence[float]) -> float:
  """Exact two-sided sign-flip permutation p: the share of the 2^n sign patterns whose |mean| reaches the observed."""
  d = np.asarray(d, np.float64)
  if len(d) == 0:
    return math.nan
  signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
  means = np.abs(signs @ d) / len(d)
  observed = abs(d.mean())
  return float(np.mean(means >= observed * (1 - 1e-12) - 1e-15))


def holm(p_values: Sequence[float]) -> list[float]:
  """Holm-adjusted p values, in the given order; a NaN (a contrast not run) counts as p = 1 in the family."""
  p = np.array([1.0 if math.isnan(v) else v for v in p_values], np.float64)
  m = len(p)
  order = np.argsort(p, kind='stable')
  adjusted = np.empty(m)
  running = 0.0
  for rank, i in enumerate(order):
    running = max(running, min(1.0, (m - rank) * p[i]))
    adjusted[i] = running
  return [math.nan if math.isnan(v) else float(a) for v, a in zip(p_values, adjusted, strict=True)]


def power(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
  """Power of the two-sided paired t test at level `alpha` for a true mean difference `effect`.

  T = (Z + delta) / sqrt(V / df), Z standard normal, V chi-square with df = n - 1 degrees of freedom, delta =
  effect sqrt(n) / sd; so P(|T| > c) = E_V[Phi(delta - c s) + Phi(-delta - c s)] with s = sqrt(V / df), integrated
  over V's quantiles u in (0, 1). (scipy's noncentral t returns NaN for some tails at small df, which must not count
  as power 1.)"""
  df, noncentrality = n - 1, effect * math.sqrt(n) / sd
  critical = scipy_stats.t.ppf(1 - alpha / 2, df)

  def rejects(u: float) -> float:
    scale = critical * math.sqrt(scipy_stats.chi2.ppf(u, df) / df)
    return scipy_stats.norm.sf(scale - noncentrality) + scipy_stats.norm.cdf(-scale - noncentrality)
  return float(integrate.quad(rejects, 0.0, 1.0, limit=200)[0])


def mde(sd: float, n: int, alpha: float = ALPHA, target_power: float = POWER) -> float:
  """The smallest true mean difference the paired t test at `alpha` detects with `target_power`; NaN for n < 2."""
  if n < 2 or not sd > 0:
    return math.nan
  high = 3.0 * sd / math.sqrt(n)
  while power(high, sd, n, alpha) < target_power:
    high *= 2
  return float(optimize.brentq(lambda e: power(e, sd, n, alpha) - target_power, 0.0, high, xtol=1e-10 * sd))


@dataclasses.dataclass
class Contrast:
  """One contrast of a study: `point` against `reference` in `metric` (in the table's units)."""
  question: str
  point: str
  reference: str
  metric: str
  seeds: list[int]
  differences: np.ndarray
  paper_delta: float | None = None   # the paper's point - reference, in the same units; None: no claim to compare.
  untestable: str = ''               # why the data cannot answer, known before any run ('' = testable).
  paper_text: str = '-'              # the paper's claim as the table shows it.
  regime: str = ''                   # the sweep's check of its regime (MUST_OVERFIT), as the table notes it.
  regime_fails: bool = False         # the runs did not reach the regime the question needs: no verdict.
  margin: float | None = None        # the equivalence margin (table units), stated before the runs; None: no test.

  @property
  def n(self) -> int:
    return len(self.differences)

  @property
  def sd(self) -> float:
    return float(np.std(self.differences, ddof=1)) if self.n > 1 else math.nan

  def t_test(self) -> tuple[float, float, float, float]:
    return paired_t(self.differences)

  def sign_flip(self) -> float:
    return sign_flip_p(self.differences)

  def tost(self) -> float:
    return tost_p(self.differences, self.margin) if self.margin is not None else math.nan


def tost_p(d: Sequence[float], margin: float) -> float:
  """The p value of equivalence within ±margin (two one-sided paired t tests, Schuirmann's TOST): the larger of the
  p values of 'mean <= -margin' and of 'mean >= +margin'; small when the mean difference is surely inside the
  margin. NaN where n < 2."""
  d = np.asarray(d, np.float64)
  n = len(d)
  if n < 2 or not margin > 0:
    return math.nan
  mean, sd = float(d.mean()), float(d.std(ddof=1))
  if sd == 0.0:
    return 0.0 if abs(mean) < margin else 1.0
  se = sd / math.sqrt(n)
  above_lower = scipy_stats.t.sf((mean + margin) / se, n - 1)   # H0: mean <= -margin.
  below_upper = scipy_stats.t.cdf((mean - margin) / se, n - 1)  # H0: mean >= +margin.
  return float(max(above_lower, below_upper))


def equivalence_verdict(adjusted_p: float, margin: float, untestable: str = '', units: str = 'points') -> str:
  """The rule: 'equivalent within ±m' where the adjusted TOST p is below 0.05, else 'equivalence not shown (±m)';
  'cannot test here' where the data or regime cannot answer."""
  if untestable:
    return 'cannot test here'
  if adjusted_p < ALPHA:
    return f'equivalent within ±{margin:g} {units}'
  return f'equivalence not shown (±{margin:g} {units})'


def verdict(mean: float, adjusted_p: float, paper_delta: float | None, minimum_effect: float, untestable: str = '',
            units: str = 'points') -> str:
  """The rule: 'agrees with the paper' (same sign as the paper's delta, adjusted p < 0.05), 'opposite to the paper'
  (opposite sign, adjusted p < 0.05), 'difference detected' (no paper delta to compare, adjusted p < 0.05), else
  'no effect detected (MDE x)'; 'cannot test here' where the data or regime cannot answer."""
  if untestable:
    return 'cannot test here'
  if not adjusted_p < ALPHA:
    return f'no effect detected (MDE {minimum_effect:.2g} {units})' if not math.isnan(minimum_effect) else \
        'no effect detected (n < 2)'
  if paper_delta is None or paper_delta == 0:
    return 'difference detected'
  return 'agrees with the paper' if np.sign(mean) == np.sign(paper_delta) else 'opposite to the paper'
