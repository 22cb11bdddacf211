/work/sweep/.venv/bin/python -m alexnet.main --config=configs/default.py '--workdir=/work/main/runs/tune_default/base,seed=0' --config.learning_rate=0.05 --config.seed=0
