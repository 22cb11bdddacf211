python -m alexnet.main --config=configs/proxy_drops.py '--workdir=runs/ablations/drops/lrn=none,seed=1' --config.lrn=none --config.seed=1
