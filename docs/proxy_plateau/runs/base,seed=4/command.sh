python -m alexnet.main --config=configs/proxy.py '--workdir=runs/proxy_plateau/base,seed=4' --config.seed=4
