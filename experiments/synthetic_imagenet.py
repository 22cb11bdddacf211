"""A synthetic ILSVRC2012 in the real file layout, for tests and input benchmarks (never data to train a model on).

  python -m experiments.synthetic_imagenet --manual_dir=DIR [--classes=1000] [--train_per_class=N] [--val_images=N]

Writes DIR/ILSVRC2012_img_train.tar (one nXXXXXXXX.tar per synset, of nXXXXXXXX_K.JPEG) and
DIR/ILSVRC2012_img_val.tar (ILSVRC2012_val_000NNNNN.JPEG), with the real synset ids. Validation image N is drawn for
the synset the real ground truth gives it, and the images are real-looking: sizes and aspect ratios around 500x375 as
in ILSVRC2012 (most 500x375, 375x500 or 500x333, some larger or smaller), smooth colour fields with noise texture so
the JPEGs have realistic sizes (tens of KB), 2% grey-scale, the real set's CMYK file names (TFDS's list) as CMYK
JPEGs, and its one PNG named .JPEG. Each synset has its own colour, so a label can be checked against the pixels.
"""
from __future__ import annotations

import io
import os
import tarfile

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from alexnet.data import imagenet


SPECIAL = {name: 'CMYK' for name in imagenet.tfds_imagenet.CMYK_IMAGES} | {
    name: 'PNG' for name in imagenet.tfds_imagenet.PNG_IMAGES}
SIZES = [(500, 375), (375, 500), (500, 333)]  # (width, height), the commonest ILSVRC2012 shapes.


def chosen_synsets(classes: int) -> list[str]:
  """`classes` synsets in TFDS label order; those holding the PNG and the CMYK files are chosen first."""
  all_synsets = imagenet.synsets()
  if not 1 <= classes <= len(all_synsets):
    raise ValueError(f'--classes must be in 1..{len(all_synsets)}, got {classes}')
  special = list(dict.fromkeys(name.split('_')[0] for name in imagenet.tfds_imagenet.PNG_IMAGES +
                               imagenet.tfds_imagenet.CMYK_IMAGES))
  first = special + [s for s in all_synsets if s not in special]
  return sorted(first[:classes], key=all_synsets.index)


def synset_colour(synset: str) -> np.ndarray:
  """The synset's own mean colour (RGB, 40..215), fixed by its id."""
  return np.random.default_rng(int(synset[1:])).uniform(40, 215, 3)


def make_image(rng: np.random.Generator, synset: str, kind: str = 'RGB') -> bytes:
  """One real-looking image of `synset`, encoded as JPEG ('RGB', 'L', 'CMYK') or PNG."""
  u = rng.uniform()
  if u < 0.9:
    width, height = SIZES[0] if u < 0.6 else SIZES[1] if u < 0.8 else SIZES[2]
  else:
    width, height = int(rng.integers(200, 1000)), int(rng.integers(150, 800))
  field = rng.normal(0, 40, (6, 8, 3)) + synset_colour(synset)  # a smooth colour field around the synset's colour,
  image = np.asarray(Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).resize((width, height),
                                                                                      Image.BICUBIC), np.float32)
  image = np.clip(image + rng.normal(0, 10, (height, width, 1)), 0, 255).astype(np.uint8)  # with texture.
  pil = Image.fromarray(image)
  out = io.BytesIO()
  if kind == 'PNG':
    pil.save(out, 'PNG')
  else:
    pil.convert(kind).save(out, 'JPEG', quality=90)
  return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
  info = tarfile.TarInfo(name)
  info.size = len(data)
  tar.addfile(info, io.BytesIO(data))


def write(manual_dir: str, classes: int = 1000, train_per_class: int = 3, val_images: int = 50,
          seed: int = 0) -> dict[str, int]:
  """Writes the two tars; returns how many images each holds."""
  os.makedirs(manual_dir, exist_ok=True)
  rng = np.random.default_rng(seed)
  chosen = chosen_synsets(classes)
  count, serial = 0, iter(range(10**9))
  kind = lambda name: SPECIAL.get(name) or ('L' if next(serial) % 50 == 1 else 'RGB')  # 2% grey, the 2nd one first
  with tarfile.open(os.path.join(manual_dir, imagenet.TRAIN_TAR), 'w') as train:
    for synset in chosen:
      names = [f'{synset}_{k}.JPEG' for k in range(1, train_per_class + 1)]
      special = [name for name in SPECIAL if name.startswith(synset + '_')]
      names = list(dict.fromkeys(special + names))[:train_per_class]
      count += len(names)
      inner = io.BytesIO()
      with tarfile.open(fileobj=inner, mode='w') as synset_tar:
        for name in names:
          _add(synset_tar, name, make_image(rng, synset, kind(name)))
      _add(train, f'{synset}.tar', inner.getvalue())
  truth, wanted = imagenet.validation_synsets(), set(chosen)
  numbers = [n for n in range(1, len(truth) + 1) if truth[n - 1] in wanted][:val_images]
  with tarfile.open(os.path.join(manual_dir, imagenet.VAL_TAR), 'w') as val:
    for n in numbers:
      _add(val, f'ILSVRC2012_val_{n:08d}.JPEG', make_image(rng, truth[n - 1], kind('')))
  return {'train': count, 'validation': len(numbers)}


def main(argv):
  del argv
  f = flags.FLAGS
  if not f.manual_dir:
    raise app.UsageError('--manual_dir is required')
  counts = write(f.manual_dir, f.classes, f.train_per_class, f.val_images, f.seed)
  print(f'{f.manual_dir}: {counts["train"]} training images in {f.classes} synsets, {counts["validation"]} '
        f'validation images. Prepare with: python -m alexnet.prepare --dataset=imagenet2012 '
        f'--manual_dir={f.manual_dir}')


def define_flags() -> None:
  flags.DEFINE_string('manual_dir', None, 'Folder to write the tars into.')
  flags.DEFINE_integer('classes', 1000, 'Synsets (the PNG and CMYK files\' synsets come first, then TFDS label order).')
  flags.DEFINE_integer('train_per_class', 3, 'Training images per synset.')
  flags.DEFINE_integer('val_images', 50, 'Validation images: the lowest-numbered ones of the chosen synsets.')
  flags.DEFINE_integer('seed', 0, 'Seed of sizes and pixels.')


if __name__ == '__main__':
  define_flags()  # here, not on import: alexnet.prepare has a --manual_dir of its own.
  app.run(main)
