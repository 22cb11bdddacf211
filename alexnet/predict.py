"""A trained net (a run's checkpoint, or imported weights) asked about images: the top-5 classes by name.

  python -m alexnet.predict --workdir=RUN IMAGE [IMAGE ...] [--json] [--config.eval_crops=1|10]

Each image goes through the run's own preprocessing: decoded (RGB, or grey for a grey dataset), shorter side resized
to the size the run's images were stored at and the central square kept, the mean subtracted, then the central crop
or the 10 crops of Section 4.1, whose softmax outputs are averaged. Classes are named as the dataset names them:
ImageNet's synset words, Fashion-MNIST's class names, a folder dataset's sub-folder names.

An image that cannot be decoded is one line naming it, exit 2, before anything runs.
"""
from __future__ import annotations

import functools
import json

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from alexnet import evaluate
from alexnet import steps
from alexnet import validation
from alexnet.data import errors
from alexnet.data import folder
from alexnet.data import imaging


def class_names(config: ml_collections.ConfigDict) -> list[str]:
  """The names of the config's classes in label order; 'class <i>' where the dataset has none."""
  names = []
  if config.dataset.startswith(folder.FOLDER_PREFIX):
    names = folder.folder_classes(config.dataset[len(folder.FOLDER_PREFIX):], config.train_split)[1]
  elif config.dataset.startswith('imagenet2012'):
    from tensorflow_datasets.datasets.siscore import labels  # pylint: disable=g-import-not-at-top
    names = [words.split(',')[0] for words in labels.IMAGENET_LABELS_LIST]  # ILSVRC2012's synset words, label order.
  elif config.dataset != 'synthetic':
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    try:
      names = list(tfds.builder(config.dataset, data_dir=config.data_dir or None).info.features['label'].names)
    except Exception:  # pylint: disable=broad-except
      names = []
  return names if len(names) == config.num_classes else [f'class {i}' for i in range(config.num_classes)]


def load_image(path: str, size: int, channels: int) -> np.ndarray:
  """An image file as uint8 [size, size, channels]: shorter side to `size`, central square (Section 2)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as image:
      pixels = np.asarray(image.convert('RGB' if channels == 3 else 'L'))
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DataError(f'cannot decode image {path} ({type(e).__name__}: {e}); expected an image file '
                           'PIL reads (JPEG, PNG, ...)') from None
  pixels = pixels if channels == 3 else pixels[..., None]
  return imaging.resize_and_center_crop(pixels, size)


def predict(workdir: str, config: ml_collections.ConfigDict, paths: list[str], top: int = 5) -> list[dict]:
  """[{'image', 'top': [{'label', 'name', 'probability'}, ...]}] for each image, best class first."""
  config = config.copy_and_resolve_references()
  config.parallelism = 'single'
  validation.validate(config, 1)
  stats = evaluate.load_stats(workdir, config)
  size, channels = stats['mean_image'].shape[0], imaging.model_image_shape(config)[-1]
  images = np.stack([load_image(p, size, channels) for p in paths])  # every image decodes before anything runs.
  params, batch_stats, _ = evaluate.load_params(workdir)
  network = steps.build_network(config)
  variables = {'params': params} if batch_stats is None else {'params': params, 'batch_stats': batch_stats}

  probabilities = functools.partial(steps.view_probabilities, network, config=config)
  probs = np.asarray(jax.jit(probabilities, compiler_options=steps.compiler_options(config))(
      variables, jnp.asarray(images), {k: jnp.asarray(v) for k, v in stats.items()}))
  names = class_names(config)
  results = []
  for path, p in zip(paths, probs):
    best = np.argsort(-p)[:top]
    results.append({'image': path, 'top': [{'label': int(i), 'name': names[i], 'probability': float(p[i])}
                                           for i in best]})
  return results


FLAGS = flags.FLAGS


def main(argv):
  paths = argv[1:]
  if not paths:
    raise app.UsageError('name one or more image files: python -m alexnet.predict --workdir=RUN IMAGE [IMAGE ...]')
  try:
    evaluate.load_config(FLAGS.workdir)  # a missing or unreadable config.json is reported here.
    results = predict(FLAGS.workdir, FLAGS.config, paths, FLAGS.top)
  except evaluate.BAD_INPUT as e:
    evaluate.bad_input(str(e))
  if FLAGS.json:
    print(json.dumps(results, indent=2))
    return
  for result in results:
    print(result['image'])
    for rank, entry in enumerate(result['top'], start=1):
      print(f"  {rank}. {100 * entry['probability']:6.2f}%  {entry['name']} ({entry['label']})")


if __name__ == '__main__':
  flags.DEFINE_string('workdir', None, 'A workdir of alexnet.main or alexnet.import_weights.')
  flags.DEFINE_bool('json', False, 'Print the predictions as JSON.')
  flags.DEFINE_integer('top', 5, 'How many classes to list per image.')
  flags.mark_flags_as_required(['workdir'])
  evaluate.define_config_flag()
  app.run(main)
