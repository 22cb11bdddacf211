"""The vocabulary of sweep files (big_vision's `get_hyper(h)` idiom): a sweep is a list of points, a point a dict of
config overrides {'config.<field>': value}.

  h.sweep('config.lrn', ['paper', 'none'])          -> [{'config.lrn': 'paper'}, {'config.lrn': 'none'}]
  h.fixed('config.pool', 'overlapping')             -> [{'config.pool': 'overlapping'}]
  h.product([a, b])                                 -> every point of a merged with every point of b
  h.zipit([a, b])                                   -> a[i] merged with b[i] (equal lengths)
  h.chain([a, b])                                   -> the points of a, then those of b

A point may carry a 'label' (h.sweep('label', [...])): the name tables and plots use for it instead of its slug.
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

Point = dict[str, Any]
PREFIX = 'config.'
LABEL = 'label'


def _check_key(key: str) -> str:
  if key != LABEL and (not key.startswith(PREFIX) or len(key) == len(PREFIX)):
    raise ValueError(f"sweep keys are 'config.<field>' or 'label', got {key!r}")
  return key


def sweep(key: str, values: Sequence[Any]) -> list[Point]:
  return [{_check_key(key): v} for v in values]


def fixed(key: str, value: Any) -> list[Point]:
  return [{_check_key(key): value}]


def _merge(points: Sequence[Point]) -> Point:
  merged = {}
  for p in points:
    clash = set(merged) & set(p)
    if clash:
      raise ValueError(f'a point sets {sorted(clash)} twice')
    merged.update(p)
  return merged


def product(axes: Sequence[list[Point]]) -> list[Point]:
  return [_merge(combo) for combo in itertools.product(*axes)]


def zipit(axes: Sequence[list[Point]]) -> list[Point]:
  if len({len(a) for a in axes}) > 1:
    raise ValueError(f'zipit needs axes of one length, got {[len(a) for a in axes]}')
  return [_merge(combo) for combo in zip(*axes)]


def chain(groups: Sequence[list[Point]]) -> list[Point]:
  return [p for g in groups for p in g]
