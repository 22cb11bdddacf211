"""The data cannot be read as the config says: exceptions whose one-line message says which and what to do.

`python -m alexnet.main` prints the message and exits with status 2, as for a bad config.
"""
from __future__ import annotations


class DataError(RuntimeError):
  """The data cannot be read as the config says; the message (one line) says which and what to do."""


class DataNotFoundError(DataError):
  """The dataset is not prepared locally; the message says how to get it."""
