"""torchvision's `alexnet`: the one-tower net of "One weird trick" (Krizhevsky, 2014) that torchvision ships.

Widths 64-192-384-256-256, FC 4096-4096, no LRN, conv1 padded by 2 on a 224 crop (still 55x55), torchvision's
preprocessing (shorter side 256, central crop 224, per-channel mean). `python -m alexnet.import_weights --torch_state=`
fills it with torchvision's weights; the per-channel std of its input normalisation is folded into conv1 there.
Inference-equivalent, not training-equivalent: torchvision drops out before fc6 and fc7, this net (the paper's
Section 4.2) before fc7 and fc8.
"""
from configs import imagenet


def get_config():
  c = imagenet.get_config()
  c.config_name = 'torchvision'
  c.num_towers = 1
  c.mesh_tower = 1
  c.conv_features = (64, 192, 384, 256, 256)
  c.conv1_padding = '2,2'
  c.image_size = 224
  c.lrn = 'none'
  c.mean_subtraction = 'channel'
  c.eval_crops = 1                 # torchvision's published accuracy is for the central crop.
  return c
