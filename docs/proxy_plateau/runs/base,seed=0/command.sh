python -m alexnet.main --config=configs/proxy.py '--workdir=runs/proxy_plateau/base,seed=0' --config.seed=0
