"""The paper's setup (Krizhevsky et al., 2012): two towers on a (data, tower) mesh, ImageNet, 227x227 crops."""
import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.config_name = 'imagenet'
  # Data (Sections 2, 4.1).
  c.dataset = 'imagenet2012'       # a TFDS name, or 'folder:/path' (class sub-folders), or 'synthetic'.
  c.data_dir = ''                  # TFDS data_dir ('' = TFDS default, ~/tensorflow_datasets).
  c.train_split = 'train'
  c.minival_examples = 10_000      # held out from the end of train: periodic evaluation, the plateau rule, all tuning.
  c.train_examples = -1            # > 0: train on the first this many of the examples left (a fixed subset); -1: all.
  c.test_split = 'validation'      # ILSVRC2012's validation set serves as test: evaluated once, at the end.
  c.num_classes = 1000
  c.resize_size = 256              # Section 2: shorter side to 256, then the central 256x256 patch.
  c.image_size = 227               # training/eval crop; 224 with conv1_padding '1,2' keeps conv1 at 55x55.
  c.pad_crop = 0                   # small images: pad by this many pixels, then crop back to image_size.
  c.mean_subtraction = 'pixel'     # 'pixel' (the paper's mean image), 'channel', or 'none'.
  c.stats_max_examples = 50_000    # mean image and RGB PCA from a fixed random subset of this many training images.
  c.random_crop = True             # Section 4.1: random crops for training.
  c.random_flip = True             # Section 4.1: horizontal reflections.
  c.pca_lighting = 0.1             # Section 4.1: alpha ~ N(0, 0.1) along the RGB principal components; 0 = off.
  c.input_scale = 1.0              # pixels stay in [0, 255] units after mean subtraction, as in the paper.
  c.eval_crops = 10                # 1 = centre crop; 10 = four corners + centre and their flips (Section 4.1).
  c.cache_decoded = False          # True: decode each split once into memory (small datasets only).
  c.input_workers = -1             # grain processes decoding batches: -1 = one per CPU core; 0 = threads in this
                                   # process. Splits in memory (cache_decoded) need none.
  c.unreadable_images = 'error'    # 'folder:' datasets: an image PIL cannot open stops the run ('error', naming it)
                                   # or is left out and counted ('skip').
  # Model (Section 3).
  c.num_towers = 2                 # 2 = the paper's net; 1 = fused (full widths, no exchanges).
  c.conv_features = (96, 256, 384, 384, 256)   # totals over towers.
  c.conv_kernels = (11, 5, 3, 3, 3)
  c.conv1_stride = 4
  c.conv1_padding = 'VALID'        # 'VALID', 'SAME' or 'lo,hi' pixels.
  c.fc_features = (4096, 4096)
  c.activation = 'relu'            # 'relu' (Section 3.1) or 'tanh' (the saturating unit of Figure 1).
  c.lrn = 'paper'                  # 'paper' (k=2, n=5, alpha=1e-4, beta=0.75), 'caffe', 'none', 'batchnorm'.
  c.pool = 'overlapping'           # 'overlapping' (3/2, Section 3.4) or 'non_overlapping' (2/2).
  c.pool_padding = 'VALID'
  c.dropout_rate = 0.5             # Section 4.2, before FC7 and FC8.
  c.init = 'paper'                 # 'paper' (N(0, 0.01), some biases 1), 'caffe' (biases 0.1), 'he'.
  c.positive_bias = -1.0           # initial bias of conv2, conv4, conv5, fc6, fc7; < 0: the init's own (1, 0.1, 0).
  c.dtype = 'float32'              # compute dtype: 'float32' or 'bfloat16' (parameters stay float32).
  c.kernels = 'auto'               # pooling and LRN forms (ops.KERNELS): 'cpu', 'generic', 'auto' (per backend).
  c.cpu_conv_library = 'xla'       # on CPU: XLA's own convolutions or 'ynnpack' (docs/performance.md measures both).
  # Execution.
  c.parallelism = 'mesh'           # 'mesh' (shard_map over a (data, tower) mesh) or 'single' (one device).
  c.mesh_data = -1                 # size of the data axis; -1: the devices left after the tower axis.
  c.mesh_tower = -1                # size of the tower axis (divides num_towers); -1: as many of the towers as one
                                   # process's devices hold (on CPU main.py makes one virtual device per tower).
  # Optimisation (Section 5).
  c.batch_size = 128               # global batch.
  c.learning_rate = 0.01
  c.momentum = 0.9
  c.weight_decay = 5e-4
  c.decay_biases = True            # the paper decays every parameter; Caffe exempts biases.
  c.schedule = 'plateau'           # 'plateau', 'drops', 'step', 'cosine' or 'constant'.
  # 'plateau' (docs/training.md, The plateau rule): the rule judges the mean minival error of each window.
  c.plateau_window_epochs = 1.0    # a window: the evaluations of this many epochs (a multiple of eval_every_epochs).
  c.plateau_threshold = 1e-3       # a window improves when its mean beats the best by more than this (top-1 error);
                                   # not measured for ImageNet: set it from the noise of a pilot (docs/training.md).
  c.plateau_patience_epochs = 3.0  # windows without an improvement, in epochs, before dividing the rate by 10.
  c.plateau_cooldown_epochs = 1.0  # after a drop, epochs whose windows count no plateau.
  c.plateau_max_drops = 3          # the paper divided the rate 3 times.
  c.plateau_ends_run = True        # end the run at the plateau after the last drop (num_epochs is the cap).
  c.drop_epochs = ()               # 'drops': x0.1 at each of these epochs (the plateau rule's drops fixed in advance).
  c.step_epochs = 20               # 'step' (Caffe): x0.1 every this many epochs.
  c.warmup_epochs = 0.0            # linear warm-up ('plateau', 'drops', 'constant', 'cosine').
  c.num_epochs = 90.0
  c.num_train_steps = -1           # > 0 overrides num_epochs.
  c.init_from = ''                 # a workdir (a run, or alexnet.import_weights' output) whose parameters start a new
                                   # run: layers of matching shape load, fc8 re-initialises when num_classes differs.
  # Loop.
  c.seed = 0
  c.log_every_steps = 50
  c.eval_every_steps = -1          # minival evaluations every this many steps; -1: every eval_every_epochs.
  c.eval_every_epochs = 1.0
  c.num_eval_batches = -1          # -1: the whole eval split.
  c.checkpoint_every_steps = 1000
  c.max_checkpoints = 3
  c.profile_steps = 0              # > 0: a TensorBoard profile of this many steps, from step 10 (jax.profiler).
  c.nonfinite = 'stop'             # a non-finite loss or gradient norm: 'stop' (no checkpoint after it) or 'skip'.
  return c
