/work/sweep/.venv/bin/python -m alexnet.main --config=configs/default.py '--workdir=/work/main/runs/default_seeds/runs/base,seed=1' --config.seed=1
