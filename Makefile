# Every target prepares what it needs; a second run reuses it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SSP_HOME ?= $(HOME)/.session-summary-pipeline
export SSP_HOME

.PHONY: setup model run test bench load faults lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[lambda,edge,dev]'
	touch $(STAMP)

setup: $(STAMP)

model: setup
	$(PY) -m edge_worker.cli prepare-model

run: setup model
	$(PY) -m local_stack up

test: setup model
	$(PY) -m pytest

bench: setup model
	$(PY) -m bench

lint: setup
	$(VENV)/bin/cfn-lint template.yaml

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
