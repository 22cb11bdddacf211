"""ILSVRC2012 from the user's tars through TFDS's own `imagenet2012` builder, and the paper's 256x256 version of it.

  python -m alexnet.prepare --dataset=imagenet2012 --manual_dir=DIR       # TFDS imagenet2012, full-size JPEGs
  python -m alexnet.prepare --dataset=imagenet2012_256 --manual_dir=DIR   # Section 2: down-sampled once to 256x256

What differs from TFDS's builder, and why:
- Validation labels. TFDS pairs the sorted names in ILSVRC2012_img_val.tar with its 50,000 labels by position, so a
  val tar with any image missing silently shifts every label after it. Here image ILSVRC2012_val_000NNNNN.JPEG gets
  label NNNNN of the same list: for the complete tar that is exactly TFDS's pairing; for a partial one, still right.
- The manual dir is checked first (`check_manual_dir`): a missing or unreadable tar, a member that is not a synset or
  a numbered validation image, is one line naming it, before anything is written.
- `imagenet2012_256` is the same builder whose images are resized (shorter side 256, central 256x256, JPEG quality
  90) while preparing, on every core, so that training decodes small JPEGs.

Importing this module registers `imagenet2012_256` with TFDS (alexnet/data/sources.py imports it for that);
`imagenet2012` itself is read with TFDS's own builder, whose features and files these are.
"""
from __future__ import annotations

import functools
import io
import multiprocessing
import os
import re
import tarfile

from absl import logging
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds
from tensorflow_datasets.datasets.imagenet2012 import imagenet2012_dataset_builder as tfds_imagenet

from alexnet.data import imaging

TRAIN_TAR, VAL_TAR, TEST_TAR = 'ILSVRC2012_img_train.tar', 'ILSVRC2012_img_val.tar', 'ILSVRC2012_img_test.tar'
NUM_TRAIN, NUM_VAL = 1_281_167, 50_000
VAL_NAME = re.compile(r'ILSVRC2012_val_(\d{8})\.JPEG')
SYNSET_TAR = re.compile(r'(n\d{8})\.tar')
RESIZED_SIZE, RESIZED_QUALITY = 256, 90


class ManualDirError(RuntimeError):
  """The manual dir lacks what the builder needs; the message (one line) names it."""


def synsets() -> list[str]:
  """The 1000 ILSVRC2012 synset ids in TFDS's label order."""
  with open(tfds.core.tfds_path('datasets/imagenet2012/labels.txt')) as f:
    return f.read().split()


def validation_synsets() -> list[str]:
  """Synset of validation image N (1-based) at position N - 1: ILSVRC2012's validation ground truth, from TFDS."""
  with open(tfds.core.tfds_path('datasets/imagenet2012/validation_labels.txt')) as f:
    return f.read().split()


def _members(path: str) -> list[str]:
  try:
    with tarfile.open(path, 'r:') as tar:
      return [m.name for m in tar if m.isfile()]
  except (tarfile.TarError, OSError, EOFError) as e:
    raise ManualDirError(f'{path} is not a complete tar ({type(e).__name__}: {e}); download it again') from None


def check_manual_dir(manual_dir: str | None) -> dict[str, list[str]]:
  """{'train': synset tars, 'validation': image names} found in `manual_dir`; raises ManualDirError naming what is
  missing or not ILSVRC2012. Logs a warning when the set is partial (its labels are still exact)."""
  get = 'download them from https://image-net.org/download-images'
  if not manual_dir or not os.path.isdir(manual_dir):
    raise ManualDirError(f'--manual_dir={manual_dir!r} is not a folder; it must hold {TRAIN_TAR} and {VAL_TAR} ({get})')
  missing = [t for t in (TRAIN_TAR, VAL_TAR) if not os.path.isfile(os.path.join(manual_dir, t))]
  if missing:
    raise ManualDirError(f'{" and ".join(missing)} missing from {manual_dir} ({get})')
  files = tuple(os.stat(os.path.join(manual_dir, t)) for t in (TRAIN_TAR, VAL_TAR))
  return _check_tars(os.path.abspath(manual_dir), tuple((f.st_size, f.st_mtime_ns, f.st_ino) for f in files))


@functools.lru_cache(maxsize=4)
def _check_tars(manual_dir: str, files_key) -> dict[str, list[str]]:
  """The member checks, once per manual dir and tar files (prepare and the builder both ask)."""
  del files_key
  known = set(synsets())
  train = _members(os.path.join(manual_dir, TRAIN_TAR))
  bad = [m for m in train if not (SYNSET_TAR.fullmatch(m) and m[:-4] in known)]
  if bad or not train:
    raise ManualDirError(f'{TRAIN_TAR} holds {bad[0]!r}, not an ILSVRC2012 synset tar (nXXXXXXXX.tar)' if bad
                         else f'{TRAIN_TAR} is empty')
  val = _members(os.path.join(manual_dir, VAL_TAR))
  bad = [m for m in val if not (VAL_NAME.fullmatch(m) and 1 <= int(VAL_NAME.fullmatch(m)[1]) <= NUM_VAL)]
  if bad or not val:
    raise ManualDirError(f'{VAL_TAR} holds {bad[0]!r}, not ILSVRC2012_val_000NNNNN.JPEG with NNNNN in 1..{NUM_VAL}'
                         if bad else f'{VAL_TAR} is empty')
  if len(train) < len(known) or len(val) < NUM_VAL:
    logging.warning('A partial ILSVRC2012 in %s: %d of %d synsets, %d of %d validation images. Labels are exact; '
                    'results are not comparable with the full set.', manual_dir, len(train), len(known), len(val),
                    NUM_VAL)
  return {'train': train, 'validation': val}


def validation_labels(names: list[str]) -> dict[str, str]:
  """Validation image name -> synset, by the number in the name (TFDS: by position in the sorted tar)."""
  truth = validation_synsets()
  return {name: truth[int(VAL_NAME.fullmatch(name)[1]) - 1] for name in names}


class Imagenet2012(tfds_imagenet.Builder, skip_registration=True):
  """TFDS's `imagenet2012`, with validation labels by image number and the manual dir checked first."""
  name = 'imagenet2012'

  def _split_generators(self, dl_manager):
    found = check_manual_dir(os.fspath(dl_manager.manual_dir))
    path = lambda tar: os.path.join(dl_manager.manual_dir, tar)
    splits = [
        tfds.core.SplitGenerator(name=tfds.Split.TRAIN, gen_kwargs={'archive': dl_manager.iter_archive(
            path(TRAIN_TAR))}),
        tfds.core.SplitGenerator(name=tfds.Split.VALIDATION, gen_kwargs={
            'archive': dl_manager.iter_archive(path(VAL_TAR)),
            'validation_labels': validation_labels(found['validation'])}),
    ]
    if os.path.isfile(path(TEST_TAR)):
      splits.append(tfds.core.SplitGenerator(name=tfds.Split.TEST, gen_kwargs={
          'archive': dl_manager.iter_archive(path(TEST_TAR)), 'labels_exist': False}))
    return splits


def resize_jpeg(data: bytes, size: int = RESIZED_SIZE, quality: int = RESIZED_QUALITY) -> bytes:
  """Section 2: shorter side to `size`, the central size x size patch, re-encoded as an RGB JPEG."""
  with Image.open(io.BytesIO(data)) as image:
    image.draft('RGB', (size, size))  # JPEG: decode at the smallest 1/2^k scale that stays >= size (exact otherwise)
    pixels = np.asarray(image.convert('RGB'))
  out = io.BytesIO()
  Image.fromarray(imaging.resize_and_center_crop(pixels, size)).save(out, 'JPEG', quality=quality)
  return out.getvalue()


def _resized(key_and_record):
  key, record = key_and_record
  return key, dict(record, image=io.BytesIO(resize_jpeg(record['image'])))


class Imagenet2012Resized256(Imagenet2012, skip_registration=False):
  """`imagenet2012` down-sampled once to 256x256 (Section 2), prepared from the same tars with the same labels."""
  name = 'imagenet2012_256'

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(RESIZED_SIZE, RESIZED_SIZE, 3), encoding_format='jpeg'),
            'label': tfds.features.ClassLabel(names_file=tfds.core.tfds_path('datasets/imagenet2012/labels.txt')),
            'file_name': tfds.features.Text(),
        }),
        supervised_keys=('image', 'label'), homepage='https://image-net.org/')

  def _generate_examples(self, archive, validation_labels=None, labels_exist=True):
    # Records are read from the tar here and resized on every core (in order); bytes, not file objects, cross over.
    records = ((key, dict(record, image=record['image'].read()))
               for key, record in super()._generate_examples(archive, validation_labels, labels_exist))
    with multiprocessing.get_context('spawn').Pool(os.cpu_count()) as pool:
      yield from pool.imap(_resized, records, chunksize=16)
