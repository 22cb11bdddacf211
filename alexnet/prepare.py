"""Prepares a TFDS dataset in the array_record format that training reads (alexnet/data/prepare.py).

  python -m alexnet.prepare --dataset=fashion_mnist [--data_dir=DIR]
  python -m alexnet.prepare --dataset=imagenet2012 --manual_dir=DIR_WITH_ILSVRC_TARS
  python -m alexnet.prepare --dataset=imagenet2012_256 --manual_dir=DIR_WITH_ILSVRC_TARS  # Section 2's 256x256 copy

Exit status: 0 prepared (or already there); 2 what it needs is missing, said in one line.
"""
from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from alexnet.data import errors
from alexnet.data import prepare

flags.DEFINE_string('dataset', 'fashion_mnist', 'TFDS dataset name.')
flags.DEFINE_string('data_dir', '~/tensorflow_datasets', 'TFDS data_dir to prepare into.')
flags.DEFINE_string('manual_dir', None, 'Folder with manually downloaded files (imagenet2012 tars, ...).')
flags.DEFINE_bool('allow_apt', True, 'Offline Fashion-MNIST: install Debian\'s dataset-fashion-mnist if missing and '
                  'running as root with apt-get (waiting for another apt-get\'s lock).')
flags.DEFINE_bool('download', False, 'Let TFDS download the dataset (online) instead of using Debian\'s package.')


def main(argv):
  del argv
  f = flags.FLAGS
  try:
    prepare.prepare(f.dataset, f.data_dir, f.manual_dir, f.allow_apt, f.download)
  except errors.DataError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  print(f'{f.dataset} prepared in {os.path.expanduser(f.data_dir)}')


if __name__ == '__main__':
  app.run(main)
