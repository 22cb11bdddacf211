python -m alexnet.main --config=configs/proxy_drops.py '--workdir=runs/ablations/drops/pool=non_overlapping,seed=1' --config.pool=non_overlapping --config.seed=1
