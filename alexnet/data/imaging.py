"""Image helpers of Section 2 on the host, and the image shape a config's net sees."""
from __future__ import annotations

import ml_collections
import numpy as np
from PIL import Image

GREY_DATASETS = ('fashion_mnist', 'mnist', 'synthetic')


def resize_and_center_crop(image: np.ndarray, size: int) -> np.ndarray:
  """Section 2: rescale so the shorter side is `size`, then crop out the central size x size patch."""
  h, w = image.shape[:2]
  if (h, w) != (size, size):
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    squeeze = image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image).resize((nw, nh), Image.BILINEAR)
    image = np.asarray(pil)[..., None] if squeeze else np.asarray(pil)
    top, left = (nh - size) // 2, (nw - size) // 2
    image = image[top:top + size, left:left + size]
  return image


def model_image_shape(config: ml_collections.ConfigDict) -> tuple[int, int, int]:
  """(H, W, C) of the images the net sees under this config, known without opening the data: one channel for
  GREY_DATASETS, three (RGB) otherwise."""
  return (config.image_size, config.image_size, 1 if config.dataset in GREY_DATASETS else 3)
