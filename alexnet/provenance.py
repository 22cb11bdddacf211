"""Which code made a run: the git commit of this checkout and whether its tree had uncommitted changes."""
from __future__ import annotations

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(*args: str) -> str | None:
  try:
    out = subprocess.run(['git', '-C', REPO, *args], capture_output=True, text=True, timeout=30, check=True)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip()


def code_version(paths: tuple[str, ...] = ('alexnet', 'configs')) -> dict[str, str | bool | None]:
  """{'commit': HEAD's hash, 'dirty': whether the code a run executes (`paths`: for training, alexnet/ and configs/)
  differs from it}; None for both outside a git checkout (an installed copy)."""
  commit = _git('rev-parse', 'HEAD')
  if commit is None:
    return {'commit': None, 'dirty': None}
  status = _git('status', '--porcelain', '--untracked-files=normal', '--', *paths)
  return {'commit': commit, 'dirty': bool(status)}


def commits(versions) -> list[str]:
  """The distinct short commits of `versions` (dicts with 'commit' and 'dirty', as code_version returns them, or
  rows read back from CSV, where 'dirty' is the text 'True'), sorted, each marked ' (dirty)' where it was."""
  return sorted({(v.get('commit') or '?')[:7] + (' (dirty)' if str(v.get('dirty')) == 'True' else '')
                 for v in versions})
