"""Your own images as a dataset: `dataset='folder:/path'`, a folder of class sub-folders.

`/path/<split>/<class>/<image>`, or `/path/<class>/<image>` for every split. Labels are the sorted class names'
positions. The files are listed class by class, so the split says `by_label` and minival is drawn from every class
(splits.shuffled).
"""
from __future__ import annotations

import concurrent.futures
import os

from absl import logging
import numpy as np
from PIL import Image

from alexnet.data import errors
from alexnet.data import imaging
from alexnet.data import splits

FOLDER_PREFIX = 'folder:'


class _FolderRead:
  def __init__(self, files: list[tuple[str, int]], resize_size: int):
    self.files, self.resize_size = files, resize_size

  def one(self, i):
    try:
      image = np.asarray(Image.open(self.files[i][0]).convert('RGB'))
    except Exception as e:  # pylint: disable=broad-except
      raise errors.DataError(f'cannot decode image {self.files[i][0]} ({type(e).__name__}: {e})') from None
    return imaging.resize_and_center_crop(image, self.resize_size or 256)

  def __call__(self, indices):
    return (np.stack([self.one(int(i)) for i in indices]),
            np.asarray([self.files[int(i)][1] for i in indices], np.int32))


def folder_classes(root: str, split: str) -> tuple[str, list[str]]:
  """(the folder a split of `root` reads, its class names in label order: the sorted sub-folder names)."""
  base = os.path.join(root, split) if os.path.isdir(os.path.join(root, split)) else root
  if not os.path.isdir(base):
    raise errors.DataNotFoundError(f'Image folder {base!r} does not exist (expected {root}/<split>/<class>/<image>).')
  return base, sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))


def _problem(path: str) -> str | None:
  """Why PIL cannot open the file's header, or None."""
  try:
    with Image.open(path) as image:
      image.size  # pylint: disable=pointless-statement
    return None
  except Exception as e:  # pylint: disable=broad-except
    return f'{type(e).__name__}: {e}'


def folder_split(root: str, split: str, resize_size: int, unreadable: str = 'error') -> splits.Split:
  """The images of `split` under `root`, class by class.

  Every file's header is read when the split opens: a file PIL cannot open raises DataError naming it, or with
  unreadable='skip' is left out and counted in a warning. A file that opens but fails to decode later raises
  DataError naming it."""
  base, classes = folder_classes(root, split)
  files = [(os.path.join(base, c, f), label) for label, c in enumerate(classes)
           for f in sorted(os.listdir(os.path.join(base, c)))]
  if not files:
    raise errors.DataNotFoundError(f'No images under {base!r} (expected {base}/<class>/<image>).')
  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    bad = [(f, p) for (f, _), p in zip(files, pool.map(_problem, [f for f, _ in files])) if p is not None]
  if bad and unreadable != 'skip':
    more = f' and {len(bad) - 1} more' if len(bad) > 1 else ''
    raise errors.DataError(f'unreadable image {bad[0][0]} ({bad[0][1]}){more}; fix or remove it, or set '
                           '--config.unreadable_images=skip to leave such files out')
  if bad:
    logging.warning('%d unreadable image(s) left out of %s (first: %s: %s)', len(bad), base, *bad[0])
    skip = {f for f, _ in bad}
    files = [(f, label) for f, label in files if f not in skip]
  read = _FolderRead(files, resize_size)
  return splits.Split(f'folder:{base}', len(files), read, read([0])[0].shape[1:], by_label=True)
