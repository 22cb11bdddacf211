# The README's commands: `make train` (default config on real Fashion-MNIST), `make test` (fast tier),
# `make test-all` (every test: what CI runs), `make ablations` and `make compare` (the research results).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(HOME)/tensorflow_datasets
WORKDIR ?= runs/default
ARGS ?=
JOBS ?= 2
ABLATIONS := towers lrn pooling dropout augmentation init activation
comma := ,
empty :=
space := $(empty) $(empty)
ABLATION_FILES := $(subst $(space),$(comma),$(foreach s,$(ABLATIONS),experiments/sweeps/$(s).py))

.PHONY: train test test-all data summary benchmark ablations compare publish clean

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
	$(PY) -m pytest -q -m "not slow" tests

test-all: $(VENV)/.installed data
	$(PY) -m pytest -q tests

# The paper's ablations on the default net, 3 seeds each, in one queue: runs/ablations/<question>/results.md.
ablations: data
	$(PY) -m experiments.sweep --sweep=$(ABLATION_FILES) --workdir=runs/ablations --jobs=$(JOBS) $(ARGS)

# Split vs fused: runs/compare/report.md (reuses the towers runs of `make ablations` when they exist).
compare: data
	$(PY) -m experiments.compare --workdir=runs/compare --runs_dir=runs/ablations/runs --jobs=$(JOBS) $(ARGS)

# Copies the tables and plots of `make ablations` and `make compare` into docs/ (runs/ is not committed).
publish:
	for s in $(ABLATIONS); do mkdir -p docs/ablations/$$s && cp runs/ablations/$$s/results.md runs/ablations/$$s/*.png docs/ablations/$$s/; done
	mkdir -p docs/compare && cp runs/compare/report.md runs/compare/*.png docs/compare/

summary: $(VENV)/.installed
	$(PY) -m alexnet.summary --config=configs/imagenet.py

benchmark: $(VENV)/.installed
	$(PY) -m experiments.benchmark

clean:
	rm -rf $(VENV) runs
