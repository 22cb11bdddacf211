/work/sweep/.venv/bin/python -m alexnet.main --config=configs/proxy.py '--workdir=/work/main/runs/ablations/runs/lrn=caffe,seed=3' --config.lrn=caffe --config.seed=3
