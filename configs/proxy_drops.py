"""configs/proxy.py on one schedule fixed in advance: the ablation study's second design (docs/experiments.md).

The rate is divided by 10 at epochs 8, 11 and 14 and the run ends at epoch 17, for every arm and seed of a question,
so that two arms differ only in their knob and never in when a rule fired. The drops are where the plateau rule drops
on the proxy's pilot (5 seeds, docs/proxy_plateau; `python -m experiments.design --runs='docs/proxy_plateau/runs/*'`
places them), and the end is three epochs after the third drop, where the pilot's runs had stopped moving. Minival is
evaluated once an epoch, for the curves only: nothing reads it to decide anything.
"""
from configs import proxy


def get_config():
  c = proxy.get_config()
  c.config_name = 'proxy_drops'
  c.schedule = 'drops'
  c.drop_epochs = (8.0, 11.0, 14.0)
  c.num_epochs = 17.0
  c.eval_every_epochs = 1.0
  return c
