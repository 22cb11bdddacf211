/work/sweep/.venv/bin/python -m alexnet.main --config=configs/proxy.py '--workdir=/work/main/runs/ablations/runs/pool=non_overlapping,seed=0' --config.pool=non_overlapping --config.seed=0
