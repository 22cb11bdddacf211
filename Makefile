# The README's commands: `make train` (default config on real Fashion-MNIST), `make test` (fast tier),
# `make test-all` (every test: what CI runs), `make ablations` and `make compare` (the research results).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(HOME)/tensorflow_datasets
WORKDIR ?= runs/default
ARGS ?=
JOBS ?= 2
# The study's questions, as experiments/study/table.py lists them (read when a recipe needs them, after the venv).
QUESTIONS = $(shell $(PY) -m experiments.study --list)
# The folders their runs go to (each sweep file's RUNS_DIR, under runs/; docs/ keeps the same path under docs/).
RUNS_DIRS = $(shell $(PY) -m experiments.study --runs_dirs)
ABLATIONS = $(filter-out relu,$(QUESTIONS))
comma := ,
empty :=
space := $(empty) $(empty)
ABLATION_FILES = $(subst $(space),$(comma),$(foreach s,$(ABLATIONS),experiments/sweeps/$(s).py))

.PHONY: train test test-all data summary benchmark ablations compare publish restore-runs clean

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

# The ablation study on configs/proxy.py (the paper's numeric regime), each question's design in its sweep file, in
# one queue: runs/ablations/<question>/results.{csv,md}, then the study's table, runs/ablations/study.md.
# ReLU vs tanh trains Figure 1's own net: its learning rates are chosen first, and its runs keep their own folder.
ablations: data
	$(PY) -m experiments.sweep --sweep=$(ABLATION_FILES) --workdir=runs/ablations --schedule=full --jobs=$(JOBS) $(ARGS)
	$(PY) -m experiments.sweep --sweep=experiments/sweeps/tune_figure1.py --workdir=runs/tune_figure1 --jobs=$(JOBS)
	$(PY) -m experiments.sweep --sweep=experiments/sweeps/relu.py --workdir=runs/ablations/relu --jobs=$(JOBS)
	$(PY) -m experiments.study --results=runs/ablations --out=runs/ablations/study.md

# Split vs fused: runs/compare/report.md (reuses the towers runs of `make ablations`, in the towers file's RUNS_DIR).
compare: data
	$(PY) -m experiments.compare --workdir=runs/compare --schedule=full --jobs=$(JOBS) $(ARGS)

# Copies every finished question's rows, table and plots into docs/ablations/ (runs/ is not committed), and each
# finished run's record from its question's runs folder to the same path under docs/; rebuilds the study's table from
# the committed rows; then the split-vs-fused report, if `make compare` made one. The first design's record,
# docs/ablations/first/, is never written.
publish: $(VENV)/.installed
	for s in $(QUESTIONS); do if [ -f runs/ablations/$$s/results.csv ]; then mkdir -p docs/ablations/$$s && \
	  cp runs/ablations/$$s/results.csv runs/ablations/$$s/results.md runs/ablations/$$s/*.png docs/ablations/$$s/; fi; done
	for r in $(foreach d,$(RUNS_DIRS),$(d)/*/); do if [ -f "$$r/summary.json" ]; then \
	  d="docs/$${r#runs/}"; mkdir -p "$$d" && cp "$$r"/config.json "$$r"/summary.json "$$r"/command.sh \
	  "$$r"/events.out.tfevents.* "$$d"/; fi; done
	$(PY) -m experiments.study --results=docs/ablations --out=docs/ablations/study.md
	if [ -f runs/compare/report.md ]; then mkdir -p docs/compare && cp runs/compare/report.md runs/compare/*.png docs/compare/; fi

# A new machine: the finished runs' records (config, summary, TensorBoard events) back into their runs folders, so
# that `make ablations` skips them and its tables and plots include them (their checkpoints are not kept).
restore-runs: $(VENV)/.installed
	for d in $(RUNS_DIRS); do if [ -d "docs/$${d#runs/}" ]; then mkdir -p "$$d" && cp -rn "docs/$${d#runs/}/." "$$d/"; fi; done

summary: $(VENV)/.installed
	$(PY) -m alexnet.summary --config=configs/imagenet.py

benchmark: $(VENV)/.installed
	$(PY) -m experiments.benchmark

clean:
	rm -rf $(VENV) runs
