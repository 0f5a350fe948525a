# spikeforge — all set-up happens here; every target (re)creates its own virtual environment.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export SPIKEFORGE_DATA ?= $(abspath ../shared/datasets)

.PHONY: venv demo test lint typecheck bench-quick clean

$(STAMP): pyproject.toml constraints.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch 2.13.0 first: a CPU build (other versions pull multi-GB CUDA builds). Every package at the
	# exact version of constraints.txt (pyproject.toml only states compatible ranges).
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[test,peers,docs]'
	# Norse declares torchvision, which would drag in a second torch: install it without deps.
	$(BIN)/pip install -q --no-deps norse==1.1.0
	touch $(STAMP)

venv: $(STAMP)

## Main job on the built-in default recipe (data → train → map → check → simulate → report).
demo: $(STAMP)
	$(BIN)/spikeforge run

## The test suite (what .ci/run calls): lint, type check, unit tests, quick benchmarks.
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/pytest
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site
	$(BIN)/python scripts/benchmarks_md.py --check
	$(MAKE) bench-quick

bench-quick: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b --quick"; $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
