python -m alexnet.main --config=configs/default.py '--workdir=runs/schedules/runs/base,seed=1' --config.seed=1
