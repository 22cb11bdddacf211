python -m alexnet.main --config=configs/default.py --workdir=runs/default --config.data_dir=$HOME/tensorflow_datasets  # make train, from a fresh clone; copied in as seed 0
