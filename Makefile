# unlearn-bench — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARGS ?=
PYTEST_ARGS ?=
# test processes at once (pytest-xdist; tests of one module share a worker), one torch thread each
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint docs bench fashion-mnist browser device-wheels device-check-dry clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the package with its dev extras

$(STAMP): pyproject.toml constraints/test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]' -c constraints/test.txt
	touch $(STAMP)

run: install ## Install if needed, then run the default experiment (ARGS="method=... task=...")
	$(PY) -m unlearn_bench $(ARGS)

test: install ## Install if needed, then run the test suite (PYTEST_ARGS="-m 'not slow'"; TEST_WORKERS=0: one process)
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

test-fast: install ## The tests without the slow end-to-end ones
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope -m "not slow" $(PYTEST_ARGS)

lint: install ## Ruff over sources and tests
	$(VENV)/bin/ruff check src tests

docs: install ## Build the documentation site strictly into site/ (a broken link or a page missing from the nav fails)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

fashion-mnist: ## Install Debian's Fashion-MNIST files (/usr/share/datasets/fashion-mnist)
	apt-get update && apt-get install -y dataset-fashion-mnist

browser: ## Install Debian's chromium for the HTML report's browser test
	apt-get update && apt-get install -y chromium

device-wheels: ## Wheels for scripts/device_check.sh (offline GPU check) into scripts/device_wheels/
	PY=$(PY) scripts/fetch_device_wheels.sh

device-check-dry: install ## The GPU check's steps, tiny, on the CPU
	PY=$(PY) scripts/device_check.sh --dry-run

clean: ## Remove caches and run outputs (keeps .venv)
	rm -rf .cache outputs .pytest_cache
