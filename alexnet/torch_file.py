"""Reads a PyTorch state_dict file (`torch.save(model.state_dict(), path)`) into NumPy arrays, without torch.

torch.save writes a zip archive (the format of PyTorch >= 1.6): `<name>/data.pkl`, a pickle of the dict whose
tensors refer to storages by key, and each storage's raw little-endian bytes in `<name>/data/<key>`. The pickle is
read with an unpickler that knows only what a state_dict holds (ordered dicts, tensors rebuilt from storages), as
torch.load(weights_only=True) does: any other object in the file is refused, so loading runs no code from it.
"""
from __future__ import annotations

import collections
import pickle
import zipfile

import numpy as np

# torch.save names a storage by its legacy typed class.
STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16, 'LongStorage': np.int64,
    'IntStorage': np.int32, 'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
}


class TorchFileError(ValueError):
  """Not a state_dict file this reader can read; the message says why."""


def _rebuild_tensor(storage, offset, size, stride, *unused):
  """torch._utils._rebuild_tensor_v2: a view of `storage` (a flat array) with the given offset, shape and strides
  (in elements); the view is copied, so every array owns its data."""
  del unused  # requires_grad, backward hooks, metadata
  size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
  last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
  if offset < 0 or min(stride, default=0) < 0 or last >= len(storage):
    raise pickle.UnpicklingError(f'a tensor of shape {size} and strides {stride} at offset {offset} does not fit its '
                                 f'storage of {len(storage)} elements')
  item = storage.itemsize
  return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=tuple(s * item for s in stride)).copy()


class _StateDictUnpickler(pickle.Unpickler):
  """Unpickles a state_dict: its storages come from the archive, and only the names a state_dict uses resolve."""

  def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
    super().__init__(file)
    self._archive, self._prefix, self._storages = archive, prefix, {}

  def find_class(self, module, name):
    if (module, name) == ('collections', 'OrderedDict'):
      return collections.OrderedDict
    if (module, name) in (('torch._utils', '_rebuild_tensor_v2'), ('torch._utils', '_rebuild_tensor')):
      return _rebuild_tensor
    if module == 'torch' and name in STORAGE_DTYPES:
      return name
    raise pickle.UnpicklingError(f'{module}.{name} is not part of a state_dict')

  def persistent_load(self, pid):
    kind, storage_type, key, _, _ = pid  # ('storage', storage type, key, location, number of elements)
    if kind != 'storage' or storage_type not in STORAGE_DTYPES:
      raise pickle.UnpicklingError(f'unsupported storage {pid[:2]}')
    if key not in self._storages:
      data = self._archive.read(f'{self._prefix}data/{key}')
      self._storages[key] = np.frombuffer(data, np.dtype(STORAGE_DTYPES[storage_type]).newbyteorder('<'))
    return self._storages[key]


def load_state_dict(path: str) -> dict[str, np.ndarray]:
  """{key: array} of the state_dict torch.save wrote to `path`; TorchFileError when it is not one."""
  if not zipfile.is_zipfile(path):
    raise TorchFileError('not a zip archive (torch.save of PyTorch >= 1.6 writes one; an older file must be saved '
                         'again with a newer torch)')
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith('/data.pkl')]
    if len(pickles) != 1:
      raise TorchFileError(f'expected one <name>/data.pkl in the archive, found {len(pickles)}')
    prefix = pickles[0][:-len('data.pkl')]
    if f'{prefix}byteorder' in archive.namelist() and archive.read(f'{prefix}byteorder') != b'little':
      raise TorchFileError('written big-endian')
    with archive.open(pickles[0]) as f:
      try:
        state = _StateDictUnpickler(f, archive, prefix).load()
      except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError) as e:
        raise TorchFileError(f'{type(e).__name__}: {e}') from None
  if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
    raise TorchFileError(f'holds a {type(state).__name__}, not a state_dict of tensors')
  return dict(state)
