"""A tiny run of the full path (2-tower mesh, train, eval, checkpoint, summary.json) in well under a minute, offline."""
from configs import default


def get_config():
  c = default.get_config()
  c.config_name = 'smoke'
  c.dataset = 'synthetic'          # class templates + noise, made in memory: learnable, no download.
  c.minival_examples = 256
  c.test_split = 'test'
  c.num_classes = 4
  c.image_size = 16
  c.pad_crop = 1
  c.pca_lighting = 0.0
  c.conv_features = (8, 16, 16, 16, 8)
  c.fc_features = (32, 32)
  c.dropout_rate = 0.0
  c.batch_size = 32
  c.learning_rate = 0.01
  c.schedule = 'plateau'
  c.warmup_epochs = 0.0
  c.plateau_patience_epochs = 2.0
  c.num_epochs = 4.0
  c.log_every_steps = 10
  c.eval_every_steps = 20
  c.checkpoint_every_steps = 20
  return c
