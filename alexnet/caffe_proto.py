"""The part of Caffe's protobuf schema (src/caffe/proto/caffe.proto) that holds a trained net's weights.

A `.caffemodel` is a serialised `NetParameter`; a mean file (`imagenet_mean.binaryproto`) a serialised `BlobProto`.
Only the messages and fields that carry weights are declared here, with Caffe's field numbers; every other field
(solver settings, layer parameters) is skipped by the parser as unknown. Both layer formats Caffe has written are read:
the current `layer` (LayerParameter, type a string such as "Convolution") and V1's `layers` (V1LayerParameter, type an
enum such as CONVOLUTION = 4), which models converted in 2014, bvlc_alexnet among them, still use.

The schema is built with protobuf's descriptor API, so no generated code or protoc is needed.
"""
from __future__ import annotations

import dataclasses

from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf.message import DecodeError
import numpy as np

_F = descriptor_pb2.FieldDescriptorProto
# (message, [(field, number, type, label, message type or None, packed)]): caffe.proto's numbers.
_MESSAGES = [
    ('BlobShape', [('dim', 1, _F.TYPE_INT64, _F.LABEL_REPEATED, None, True)]),
    ('BlobProto', [('num', 1, _F.TYPE_INT64, _F.LABEL_OPTIONAL, None, False),
                   ('channels', 2, _F.TYPE_INT64, _F.LABEL_OPTIONAL, None, False),
                   ('height', 3, _F.TYPE_INT64, _F.LABEL_OPTIONAL, None, False),
                   ('width', 4, _F.TYPE_INT64, _F.LABEL_OPTIONAL, None, False),
                   ('data', 5, _F.TYPE_FLOAT, _F.LABEL_REPEATED, None, True),
                   ('shape', 7, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, 'BlobShape', False),
                   ('double_data', 8, _F.TYPE_DOUBLE, _F.LABEL_REPEATED, None, True)]),
    ('LayerParameter', [('name', 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None, False),
                        ('type', 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None, False),
                        ('blobs', 7, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, 'BlobProto', False)]),
    ('V1LayerParameter', [('name', 4, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None, False),
                          ('type', 5, _F.TYPE_INT32, _F.LABEL_OPTIONAL, None, False),  # enum LayerType
                          ('blobs', 6, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, 'BlobProto', False)]),
    ('NetParameter', [('name', 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None, False),
                      ('layers', 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, 'V1LayerParameter', False),
                      ('layer', 100, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, 'LayerParameter', False)]),
]
# V1LayerParameter.LayerType values of the layers that carry weights, as the current format names them.
V1_TYPES = {4: 'Convolution', 14: 'InnerProduct', 39: 'Deconvolution'}


def _classes() -> dict:
  file = descriptor_pb2.FileDescriptorProto(name='alexnet_caffe_weights.proto', package='caffe', syntax='proto2')
  for name, fields in _MESSAGES:
    message = file.message_type.add(name=name)
    for field, number, kind, label, type_name, packed in fields:
      f = message.field.add(name=field, number=number, type=kind, label=label)
      if type_name:
        f.type_name = f'.caffe.{type_name}'
      if packed:
        f.options.packed = True
  pool = descriptor_pool.DescriptorPool()
  pool.Add(file)
  return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f'caffe.{name}')) for name, _ in _MESSAGES}


_CLASSES = _classes()
NetParameter, BlobProto = _CLASSES['NetParameter'], _CLASSES['BlobProto']
LayerParameter, V1LayerParameter = _CLASSES['LayerParameter'], _CLASSES['V1LayerParameter']


@dataclasses.dataclass
class Layer:
  name: str
  type: str       # the current format's type name ('Convolution', 'InnerProduct', ...), or 'V1:<n>' for others.
  blobs: list[np.ndarray]


def blob_array(blob) -> np.ndarray:
  """A BlobProto's values as a float32 array of its shape (`shape.dim`, or the 4-D num/channels/height/width of
  early files, whose 1-sized leading axes are dropped for InnerProduct weights and biases)."""
  values = np.asarray(blob.double_data if len(blob.double_data) else blob.data, np.float32)
  if blob.HasField('shape'):
    shape = tuple(blob.shape.dim)
  else:
    shape = (blob.num, blob.channels, blob.height, blob.width)
    while len(shape) > 1 and shape[0] == 1 and np.prod(shape) == values.size:
      shape = shape[1:]
  if int(np.prod(shape)) != values.size:
    raise ValueError(f'a blob of shape {shape} holds {values.size} values')
  return values.reshape(shape)


def to_blob(array: np.ndarray, legacy_4d: bool = False):
  """A BlobProto holding `array` (with num/channels/height/width instead of `shape` when legacy_4d, as V1 files)."""
  array = np.asarray(array, np.float32)
  blob = BlobProto()
  if legacy_4d:
    padded = (1,) * (4 - array.ndim) + array.shape
    blob.num, blob.channels, blob.height, blob.width = padded
  else:
    blob.shape.dim.extend(array.shape)
  blob.data.extend(array.ravel().tolist())
  return blob


def parse_net(data: bytes) -> tuple[str, list[Layer]]:
  """(net name, layers in file order) of a serialised NetParameter. Raises ValueError when it is not one."""
  net = NetParameter()
  try:
    net.ParseFromString(data)
  except DecodeError as e:
    raise ValueError(f'not a Caffe NetParameter ({e})') from None
  layers = [Layer(l.name, l.type, [blob_array(b) for b in l.blobs]) for l in net.layer]
  layers += [Layer(l.name, V1_TYPES.get(l.type, f'V1:{l.type}'), [blob_array(b) for b in l.blobs])
             for l in net.layers]
  return net.name, layers


def serialize_net(name: str, layers: list[Layer], v1: bool = False) -> bytes:
  """A NetParameter holding `layers` (Convolution and InnerProduct with their blobs), in the current format or V1's."""
  net = NetParameter(name=name)
  codes = {v: k for k, v in V1_TYPES.items()}
  for layer in layers:
    if v1:
      message = net.layers.add(name=layer.name, type=codes[layer.type])
    else:
      message = net.layer.add(name=layer.name, type=layer.type)
    message.blobs.extend(to_blob(b, legacy_4d=v1) for b in layer.blobs)
  return net.SerializeToString()


def parse_blob(data: bytes) -> np.ndarray:
  """The array of a serialised BlobProto (a mean file). Raises ValueError when it is not one."""
  blob = BlobProto()
  try:
    blob.ParseFromString(data)
  except DecodeError as e:
    raise ValueError(f'not a Caffe BlobProto ({e})') from None
  return blob_array(blob)
