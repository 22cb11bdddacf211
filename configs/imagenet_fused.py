"""The fused net: one tower with the full widths and no exchanges (how you would build AlexNet today)."""
from configs import imagenet


def get_config():
  c = imagenet.get_config()
  c.config_name = 'imagenet_fused'
  c.num_towers = 1
  c.mesh_tower = 1
  return c
