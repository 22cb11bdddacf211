/work/sweep/.venv/bin/python -m alexnet.main --config=configs/proxy.py '--workdir=/work/main/runs/ablations/runs/lrn=none,seed=0' --config.lrn=none --config.seed=0
