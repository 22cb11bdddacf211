python -m alexnet.main --config=configs/proxy.py '--workdir=runs/proxy_plateau/base,seed=1' --config.seed=1
