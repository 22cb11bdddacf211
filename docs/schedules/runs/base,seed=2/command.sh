python -m alexnet.main --config=configs/default.py '--workdir=runs/schedules/runs/base,seed=2' --config.seed=2
