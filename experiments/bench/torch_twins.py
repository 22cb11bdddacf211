"""The JAX nets' twins in PyTorch, as timed rows (experiments/bench/timing.py) of the speed tables.

A twin has the config's layer shapes and does the same work per image as its JAX net: `groups=2` puts conv2, conv4
and conv5 within towers (cuda-convnet's layout, the two-tower net on one device), `groups=1` is the fused net.
PyTorch is optional (`pip install torch==2.13.0` for the CPU wheel): `available()` says whether it imports.
"""
from __future__ import annotations

import dataclasses
import os

from alexnet import model as model_lib

try:
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
except ImportError:
  torch = nn = None


@dataclasses.dataclass(frozen=True)
class Batch:
  """A synthetic batch: `size` images of image_size x image_size x channels, `num_classes` labels, compute dtype."""
  size: int
  image_size: int
  channels: int
  num_classes: int
  dtype: str = 'float32'


def available() -> bool:
  return torch is not None


def alexnet(config, groups: int, lrn: bool, batch: Batch) -> 'nn.Module':
  """The config's net in PyTorch ('SAME' pools pad both sides here, JAX only the far one; the work is the same)."""
  (k1, k2, k3, k4, k5), (c1, c2, c3, c4, c5) = config.conv_kernels, config.conv_features
  window, stride = model_lib.POOLS[config.pool]
  pad = 0 if config.pool_padding == 'VALID' else (window - 1) // 2
  pool = lambda: nn.MaxPool2d(window, stride, padding=pad)
  norm = lambda: [nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)] if lrn else []  # torch divides by n.
  conv1_pad = {'VALID': 0, 'SAME': k1 // 2}.get(config.conv1_padding, 0)
  convs = nn.Sequential(
      nn.Conv2d(batch.channels, c1, k1, config.conv1_stride, padding=conv1_pad), nn.ReLU(), *norm(), pool(),
      nn.Conv2d(c1, c2, k2, padding=k2 // 2, groups=groups), nn.ReLU(), *norm(), pool(),
      nn.Conv2d(c2, c3, k3, padding=k3 // 2), nn.ReLU(),
      nn.Conv2d(c3, c4, k4, padding=k4 // 2, groups=groups), nn.ReLU(),
      nn.Conv2d(c4, c5, k5, padding=k5 // 2, groups=groups), nn.ReLU(), pool(), nn.Flatten())
  flat = convs(torch.zeros(1, batch.channels, batch.image_size, batch.image_size)).shape[1]
  f6, f7 = config.fc_features
  return nn.Sequential(convs, nn.Dropout(0.5), nn.Linear(flat, f6), nn.ReLU(), nn.Dropout(0.5),
                       nn.Linear(f6, f7), nn.ReLU(), nn.Linear(f7, batch.num_classes))


def step_runner(model: 'nn.Module', batch: Batch, channels_last: bool):
  """(step_fn, sync): one SGD-momentum training step (lr 0.01, momentum 0.9, weight decay 5e-4, Section 5) of
  `model` on a random batch, on the GPU when there is one, with every CPU core's thread otherwise."""
  torch.set_num_threads(os.cpu_count())
  device = 'cuda' if torch.cuda.is_available() else 'cpu'
  sync = (lambda loss: torch.cuda.synchronize()) if device == 'cuda' else (lambda loss: loss.item())
  model = model.to(device)
  images = torch.randn(batch.size, batch.channels, batch.image_size, batch.image_size, device=device)
  if channels_last:
    model, images = model.to(memory_format=torch.channels_last), images.to(memory_format=torch.channels_last)
  labels = torch.randint(0, batch.num_classes, (batch.size,), device=device)
  optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
  loss_fn = nn.CrossEntropyLoss()
  autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=batch.dtype == 'bfloat16')

  def run():
    optimizer.zero_grad(set_to_none=True)
    with autocast:
      loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss

  return run, sync
