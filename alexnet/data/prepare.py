"""Prepares a TFDS dataset in the array_record format that training reads (tfds.data_source); the command is
`python -m alexnet.prepare` (alexnet/prepare.py).

ImageNet goes through TFDS's own builder with two mends (alexnet/data/imagenet.py): validation labels by image number,
and the manual dir checked first, so a missing tar is one line naming it.

Fashion-MNIST offline: Debian's `dataset-fashion-mnist` package ships the original idx files (MIT, Zalando) under
/usr/share/datasets/fashion-mnist; TFDS's own builder prepares them from there. They differ from the upstream files only
in their gzip headers, so they are checked against the Debian files' own checksums below instead of upstream's.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from absl import logging
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums

from alexnet.data import errors
from alexnet.data import imagenet

IMAGENET = ('imagenet2012', 'imagenet2012_256')
DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
# (size, sha256) of the files in Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1.
DEBIAN_FASHION_MNIST_FILES = {
    't10k-images-idx3-ubyte.gz': (4422079, 'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa'),
    't10k-labels-idx1-ubyte.gz': (5125, '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05'),
    'train-images-idx3-ubyte.gz': (26421856, 'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7'),
    'train-labels-idx1-ubyte.gz': (29491, '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056'),
}


APT_LOCK_TIMEOUT_S = 600  # another apt-get holding the dpkg lock: wait this long for it.


def _install_debian_fashion_mnist() -> str | None:
  """Installs Debian's dataset-fashion-mnist with apt-get (waiting for another apt-get's lock); None when done,
  else why not (one line)."""
  if os.path.isdir(DEBIAN_FASHION_MNIST):
    return None
  if not shutil.which('apt-get'):
    return 'apt-get is not on this machine'
  if os.geteuid() != 0:
    return 'installing a Debian package needs root'
  logging.info('Installing Debian package dataset-fashion-mnist ...')
  env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
  wait = ['-o', f'DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_S}']
  subprocess.run(['apt-get', *wait, 'update', '-qq'], check=False, env=env)
  result = subprocess.run(['apt-get', *wait, 'install', '-y', '-qq', 'dataset-fashion-mnist'], env=env,
                          capture_output=True, text=True)
  if result.returncode == 0 and os.path.isdir(DEBIAN_FASHION_MNIST):
    return None
  said = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
  return f'apt-get install dataset-fashion-mnist failed (exit {result.returncode}: {said[-1] if said else "no output"})'


def fashion_mnist_from_debian(data_dir: str, source_dir: str = DEBIAN_FASHION_MNIST) -> None:
  """Prepares TFDS `fashion_mnist` (array_record) from Debian's idx files with TFDS's own builder."""
  base = tfds.image_classification.FashionMNIST
  url_infos = {base.URL + name: checksums.UrlInfo(size=size, checksum=sha256, filename=name)
               for name, (size, sha256) in DEBIAN_FASHION_MNIST_FILES.items()}

  class DebianFashionMNIST(base, skip_registration=True):
    name = 'fashion_mnist'

  DebianFashionMNIST.url_infos = url_infos
  builder = DebianFashionMNIST(data_dir=data_dir, file_format='array_record')
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=source_dir))


def prepare(dataset: str, data_dir: str, manual_dir: str | None = None, allow_apt: bool = True,
            download: bool = False) -> None:
  """Prepares `dataset` under `data_dir` unless it is there already (array_record); DataError says what is missing.

  Fashion-MNIST comes from Debian's package (installed with apt-get when `allow_apt`), ImageNet from `manual_dir`,
  any other dataset from `manual_dir` too; only with `download` does TFDS fetch a dataset from the network, so an
  offline machine is told why in one line rather than left retrying hosts."""
  data_dir = os.path.expanduser(data_dir)
  manual_dir = os.path.expanduser(manual_dir) if manual_dir else manual_dir
  builder = tfds.builder(dataset, data_dir=data_dir)
  if builder.is_prepared() and builder.info.file_format.value == 'array_record':
    logging.info('%s is already prepared in %s', dataset, builder.data_dir)
    return
  if dataset == 'fashion_mnist' and manual_dir is None and not download:
    why = _install_debian_fashion_mnist() if allow_apt else 'installing it with apt-get was turned off (--noallow_apt)'
    if why is not None and not os.path.isdir(DEBIAN_FASHION_MNIST):
      raise errors.DataNotFoundError(
          f"fashion_mnist: Debian's dataset-fashion-mnist is not installed ({why}); install it (apt-get install "
          'dataset-fashion-mnist), or, online, pass --download to let TFDS fetch the files')
    fashion_mnist_from_debian(data_dir)
    return
  if dataset in IMAGENET:
    try:
      imagenet.check_manual_dir(manual_dir)
    except imagenet.ManualDirError as e:
      raise errors.DataNotFoundError(f'{dataset}: {e}') from None
    cls = imagenet.Imagenet2012 if dataset == 'imagenet2012' else imagenet.Imagenet2012Resized256
    builder = cls(data_dir=data_dir, file_format='array_record')
  elif not download and manual_dir is None:
    raise errors.DataNotFoundError(
        f'{dataset}: not prepared in {data_dir}, and nothing is downloaded unless asked: online, pass --download to '
        'let TFDS fetch it; offline, --manual_dir=DIR with the files its TFDS builder reads')
  else:
    builder = tfds.builder(dataset, data_dir=data_dir, file_format='array_record')
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
