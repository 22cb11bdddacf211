"""The study's table: every question's contrasts paired by seed, adjusted across the study, with verdicts printed
by a rule (stats.py).

Each question is a sweep file, experiments/sweeps/<question>.py, whose results.csv (a row per run, written by
experiments.sweep) sits in <results>/<question>/. A question's contrasts are every point against its REFERENCE
(contrasts.py); the sweep file may add a line of context (ANCHORS). The family for Holm's adjustment is every
testable contrast of every question listed (and an equivalence test where a sweep file sets a margin), fixed in
advance: a question not run yet counts with p = 1, so running
more of the study never makes an earlier verdict easier to reach. The minimum detectable effect (MDE) is at the
family's strictest level, 0.05 / m, with 80% power. A contrast whose runs did not reach the regime its question needs
(a sweep file's MUST_OVERFIT) stays in the family with p = 1 and gets no verdict: "cannot test here", with the check
in the notes.
"""
from __future__ import annotations

import csv
import math
import os

from alexnet import provenance
from experiments.study import contrasts
from experiments.study import stats
from experiments.sweep import plan
from experiments.sweep import sweep_file

# The ablation study, in the order its table (docs/results.md) lists it: the family Holm adjusts over. The first six
# were fixed before any of their runs; ReLU vs tanh (Figure 1's own net, experiments/figure1.py) joined after towers
# and init had run, which only makes every adjustment stricter.
QUESTIONS = ('towers', 'lrn', 'init', 'pooling', 'dropout', 'augmentation', 'relu')


def read_rows(path: str) -> list[dict]:
  if not os.path.exists(path):
    return []
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def hypotheses(family: list[stats.Contrast]) -> int:
  """The size of the family Holm adjusts over: a difference test per testable contrast, and an equivalence test for
  each that has a margin (EQUIVALENCE)."""
  return sum(1 + (c.margin is not None) for c in family if not c.untestable)


def analyse(family: list[stats.Contrast]) -> list[dict]:
  """A row per contrast: paired mean, CI, p values, Holm across every hypothesis of the family (hypotheses), MDE,
  verdict, and for a contrast with a margin the equivalence test's p and verdict. A contrast whose runs missed its
  regime enters Holm with p = 1, as one not run: its own p cannot ease the others'."""
  testable = [c for c in family if not c.untestable]
  tests = {id(c): c.t_test() for c in testable}
  hypotheses_ = [(c, 'difference') for c in testable] + [(c, 'equivalence') for c in testable if c.margin is not None]
  raw = [1.0 if c.regime_fails else (tests[id(c)][3] if kind == 'difference' else c.tost()) for c, kind in hypotheses_]
  keys = [(id(c), kind) for c, kind in hypotheses_]
  adjusted = dict(zip(keys, stats.holm(raw), strict=True))
  level = stats.ALPHA / max(hypotheses(family), 1)
  rows = []
  for c in family:
    _, units = contrasts.metric_units(c.metric)
    mean, low, high, p = tests.get(id(c), (math.nan,) * 4)
    p_adj = adjusted.get((id(c), 'difference'), math.nan)
    minimum = stats.mde(c.sd, c.n, level)
    why_not = c.untestable or ('its runs did not reach the regime the question needs' if c.regime_fails else '')
    verdict = stats.verdict(mean, p_adj, c.paper_delta, minimum, why_not, units) if c.n or c.untestable else 'not run'
    p_equivalence = adjusted.get((id(c), 'equivalence'), math.nan)
    if c.margin is not None and c.n and not why_not:
      verdict += (f'; {stats.equivalence_verdict(p_equivalence, c.margin, units=units)} (TOST p Holm '
                  f'{contrasts.format_p(p_equivalence)})')
    rows.append({'question': c.question, 'contrast': f'{c.point} − {c.reference}', 'metric': c.metric, 'n': c.n,
                 'mean': mean, 'ci_low': low, 'ci_high': high, 'p': p, 'p_sign_flip': c.sign_flip() if c.n else
                 math.nan, 'p_holm': p_adj, 'mde': minimum, 'units': units, 'paper': c.paper_text,
                 'verdict': verdict, 'why_untestable': c.untestable, 'regime': c.regime,
                 'margin': c.margin, 'p_tost_holm': p_equivalence})
  return rows


def _f(value, digits: int = 2, signed: bool = False) -> str:
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return '-'
  return f'{value:+.{digits}f}' if signed else f'{value:.{digits}f}'


def markdown(rows: list[dict], modules: dict, m: int) -> str:
  equivalence = sum(r['margin'] is not None for r in rows if not r['why_untestable'])
  family = (f"the study's {m} testable contrasts" if not equivalence else
            f"the study's {m} tests ({m - equivalence} contrasts, {equivalence} of them also tested for equivalence "
            'within a margin stated before the runs: TOST, two one-sided paired t tests)')
  lines = [f'Contrasts paired by seed (Δ = point − reference, mean over seeds). p: paired t; Holm: adjusted across '
           f'{family}; MDE: the smallest Δ the design detects with 80% power at 0.05 / {m}. '
           'Verdicts are printed by `experiments.study.stats.verdict`' + (' and `equivalence_verdict`.' if equivalence
                                                                          else '.'), '',
           '| question | contrast | metric | n | Δ here [95% CI] | p | p sign-flip | p Holm | MDE | paper Δ | '
           'verdict |', '|---|---|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    digits = 0 if r['units'] == 'steps' else 2
    ci = '' if math.isnan(r['ci_low']) else f" [{_f(r['ci_low'], digits, True)}, {_f(r['ci_high'], digits, True)}]"
    p_values = ' | '.join(contrasts.format_p(r[k]) for k in ('p', 'p_sign_flip', 'p_holm'))
    lines.append(f"| {r['question']} | {r['contrast']} | {r['metric']} ({r['units']}) | {r['n']} | "
                 f"{_f(r['mean'], digits, True)}{ci} | {p_values} | {_f(r['mde'], digits)} | {r['paper']} | "
                 f"{r['verdict']} |")
  notes = []
  for question, module in modules.items():
    anchors = sweep_file.setting(module, 'ANCHORS')
    untestable = sweep_file.setting(module, 'UNTESTABLE')
    if anchors:
      notes.append(f'- **{question}**: {anchors}')
    for point, why in untestable.items():
      notes.append(f'- **{question}**, {point}: cannot test here: {why}')
    for r in rows:
      if r['question'] == question and r['regime']:
        notes.append(f"- **{question}**, the regime: {r['regime']}")
  notes = list(dict.fromkeys(notes))  # a question's regime note is shared by its contrasts.
  return '\n'.join(lines + ([''] + notes if notes else [])) + '\n'


def runs_dir(module) -> str:
  """Where a question's runs are kept: its sweep file's RUNS_DIR, else runs/ablations/runs (where `make ablations`
  puts the runs of the questions that name none)."""
  return sweep_file.setting(module, 'RUNS_DIR') or 'runs/ablations/runs'


def planned(module) -> set[tuple[str, int]]:
  """The (point, seed) of every run the sweep file plans, on the full schedule."""
  base = sweep_file.load_config(module.BASE)
  return {(r.point, r.seed) for r in plan.plan(module, base, 'full', runs_dir(module))}


def runs_table(modules: dict, rows_by_question: dict) -> str:
  """A line per question: its planned runs finished (rows of points or seeds it no longer plans are not counted), of
  those planned, their total wall time, the commits that made them."""
  lines = ['| question | runs | run time (sum) | made at | command |', '|---|---|---|---|---|']
  for question, module in modules.items():
    runs = planned(module)
    rows = [r for r in rows_by_question[question] if (r['point'], int(r['seed'])) in runs]
    wall = sum(float(r.get('wall_seconds') or 0) for r in rows) / 3600
    commits = provenance.commits(rows)
    lines.append(f'| {question} | {len(rows)} of {len(runs)} | {wall:.1f} h | '
                 f"{', '.join(commits) or '-'} | `python -m experiments.sweep --sweep=experiments/sweeps/{question}.py "
                 f'--workdir=runs/ablations/{question} --runs_dir={runs_dir(module)} --schedule=full` |')
  return '\n'.join(lines) + '\n'


def study(results_dir: str, questions=QUESTIONS) -> tuple[list[dict], str]:
  modules = {q: sweep_file.question(q) for q in questions}
  rows_by_question = {q: read_rows(os.path.join(results_dir, q, 'results.csv')) for q in questions}
  family = [c for q, module in modules.items() for c in contrasts.contrasts(q, module, rows_by_question[q])]
  rows = analyse(family)
  text = markdown(rows, modules, hypotheses(family))
  return rows, text + '\n' + runs_table(modules, rows_by_question)
