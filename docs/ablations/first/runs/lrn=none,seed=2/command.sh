/work/sweep/.venv/bin/python -m alexnet.main --config=configs/proxy.py '--workdir=/work/main/runs/ablations/runs/lrn=none,seed=2' --config.lrn=none --config.seed=2
