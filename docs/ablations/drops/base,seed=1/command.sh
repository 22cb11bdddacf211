python -m alexnet.main --config=configs/proxy_drops.py '--workdir=runs/ablations/drops/base,seed=1' --config.num_towers=2 '--config.conv_features=(32,64,96,96,64)' --config.seed=1
