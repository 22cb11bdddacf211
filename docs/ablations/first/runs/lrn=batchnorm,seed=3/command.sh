/work/sweep/.venv/bin/python -m alexnet.main --config=configs/proxy.py '--workdir=/work/main/runs/ablations/runs/lrn=batchnorm,seed=3' --config.lrn=batchnorm --config.seed=3
