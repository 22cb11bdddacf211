"""Configs the input tests share: the paper's config with every random and statistical step of the input off."""
from configs import imagenet as imagenet_config


def plain_config(**overrides):
  config = imagenet_config.get_config()
  config.update(dict(mean_subtraction='none', pad_crop=0, random_crop=False, random_flip=False, pca_lighting=0.0,
                     input_scale=1.0))
  config.update(overrides)
  return config
