# The README's two commands: `make train` (default config on real Fashion-MNIST) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(HOME)/tensorflow_datasets
WORKDIR ?= runs/default
ARGS ?=

.PHONY: train test data summary benchmark clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

data: $(VENV)/.installed
	$(PY) -m alexnet.prepare --dataset=fashion_mnist --data_dir=$(DATA_DIR)

train: data
	$(PY) -m alexnet.main --config=configs/default.py --workdir=$(WORKDIR) --config.data_dir=$(DATA_DIR) $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest -q tests

summary: $(VENV)/.installed
	$(PY) -m alexnet.summary --config=configs/imagenet.py

benchmark: $(VENV)/.installed
	$(PY) -m experiments.benchmark

clean:
	rm -rf $(VENV) runs
