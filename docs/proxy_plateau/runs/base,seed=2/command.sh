python -m alexnet.main --config=configs/proxy.py '--workdir=runs/proxy_plateau/base,seed=2' --config.seed=2
