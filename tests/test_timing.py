"""Timed rows: the order in which the rows take turns, and the seconds per step each repetition reports."""
from experiments.bench import timing


def test_rows_take_turns(monkeypatch):
  """Two warm-up calls per row, then repetition r of every row before repetition r + 1 of any; a repetition's time
  is its steps' time over the steps (a clock that each step moves by its row's step time)."""
  clock = [0.0]
  monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock[0])
  calls, synced = [], []

  def runner(name, seconds):
    def step():
      calls.append(name)
      clock[0] += seconds
      return name
    return step, synced.append

  times = timing.time_rows({'a': runner('a', 0.25), 'b': runner('b', 1.5)}, steps=2, reps=3)
  assert calls == ['a', 'a', 'b', 'b'] + ['a', 'a', 'b', 'b'] * 3
  assert synced == ['a', 'a', 'b', 'b'] + ['a', 'b'] * 3  # each repetition waits for its last step.
  assert times == {'a': [0.25] * 3, 'b': [1.5] * 3}
