"""The default net on the cosine schedule it trained with before the paper's: a half-epoch linear warm-up to 0.1,
then cosine decay to 0 over 10 epochs, minival once an epoch (for curves only: nothing reads it). The plateau rule's
default is compared with it in docs/results.md."""
from configs import default


def get_config():
  c = default.get_config()
  c.config_name = 'default_cosine'
  c.schedule = 'cosine'
  c.num_epochs = 10.0
  c.eval_every_epochs = 1.0
  return c
