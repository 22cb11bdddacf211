/work/sweep/.venv/bin/python -m alexnet.main --config=configs/default.py '--workdir=/work/main/runs/tune_default/learning_rate=0.1,seed=0' --config.learning_rate=0.1 --config.seed=0
