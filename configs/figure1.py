"""Figure 1's setting (Section 3.1): ReLU against tanh in a four-layer convolutional net, no regularisation of any kind.

The paper: "A four-layer convolutional neural network with ReLUs reaches a 25% training error rate on CIFAR-10 six
times faster than an equivalent network with tanh neurons. The learning rates for each network were chosen
independently to make training as fast as possible. No regularization of any kind was employed."

The net has the shape of cuda-convnet's small CIFAR-10 net: three 5x5 convolutions (32, 32 and 64 maps, stride 1,
'SAME'), each followed by the unit and a 3x3 max pool of stride 2, then one fully connected layer to the classes: four
layers with weights. Both units get the same init and the same inputs: by default N(0, 1 / fan-in), biases 0, on inputs
mean-subtracted and divided by the training pixels' standard deviation (LeCun et al.'s setting, tanh's best case);
`init='fixed'` with `standardise=False` is the paper's kind instead, N(0, init_std) on mean-subtracted pixel values.
Plain SGD with momentum 0.9, no weight decay, no dropout, no augmentation, a constant learning rate. The training error
is, with `train_error='window'`, each batch's error before its update averaged over the last `train_error_window`
batches and logged every step (the study's first design); with 'pass', the error of the net on a fixed set of
`pass_examples` training images (the first of the training split, the same for every run) at `pass_points_per_decade`
steps per decade, log-spaced from step 1, so that past the first ten steps (where it measures every step) a ratio of
steps has the same resolution everywhere. Trained by experiments/figure1.py:

  python -m experiments.figure1 --config=configs/figure1.py --workdir=DIR [--config.activation=tanh]
"""
import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.config_name = 'figure1'
  c.dataset = 'fashion_mnist'      # a TFDS name, or 'synthetic' (tests).
  c.data_dir = ''                  # '' = TFDS's default, ~/tensorflow_datasets.
  c.train_split = 'train'
  c.test_split = 'test'
  c.minival_examples = 5_000       # held out of train as every run here does (alexnet/data/splits.py).
  c.num_classes = 10
  c.image_size = 28                # for 'synthetic'.
  c.conv_features = (32, 32, 64)
  c.conv_kernel = 5
  c.activation = 'relu'            # 'relu' or 'tanh'.
  c.init = 'lecun'                 # 'lecun': N(0, 1 / fan-in); 'fixed': N(0, init_std). Biases 0 either way.
  c.init_std = 0.01                # for 'fixed': the paper's 0.01 (Section 5).
  c.standardise = True             # divide the mean-subtracted inputs by the pixels' std (False: pixel units).
  c.batch_size = 128
  c.learning_rate = 0.01           # chosen per unit on training speed: experiments/sweeps/tune_figure1.py.
  c.momentum = 0.9
  c.num_steps = 429                # one epoch of the 55,000 training images (batch 128).
  c.train_error = 'window'         # 'window' (trailing batches, every step) or 'pass' (a fixed set, log-spaced).
  c.train_error_window = 20        # batches in the logged training error ('window'; 'pass' logs it beside).
  c.pass_examples = 10_000         # 'pass': the training images the error is measured on.
  c.pass_points_per_decade = 20    # 'pass': measurements per decade of steps.
  c.log_every_steps = 100          # progress and ETA in the log.
  c.seed = 0                       # init and batch order.
  # Fields the data layer reads (alexnet/data/sources.py), fixed here.
  c.resize_size = 0
  c.cache_decoded = True
  c.input_workers = 0
  c.cpu_conv_library = 'xla'       # as every config here (configs/imagenet.py).
  return c
