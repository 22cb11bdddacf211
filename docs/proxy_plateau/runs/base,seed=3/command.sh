python -m alexnet.main --config=configs/proxy.py '--workdir=runs/proxy_plateau/base,seed=3' --config.seed=3
