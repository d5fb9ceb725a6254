# Two commands on a fresh machine:
#   make run    set up .venv if missing, run all notebooks headless on the synthetic scene (quick)
#   make test   set up .venv if missing, then lint, type-check, unit tests and notebook runs
# QUICK=0 for the full-size run; DATASET=name for another catalog scene (or DATASET=all).
VENV    ?= .venv
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
DATASET ?= synthetic
QUICK   ?= 1
SEED    ?= 0
OUT     ?= outputs
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed

.PHONY: setup run test lint typecheck unit clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first: a pinned CPU-friendly build, so the project install never pulls another one
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/bdgf-run --dataset $(DATASET) --seed $(SEED) --out $(OUT) $(if $(filter 1,$(QUICK)),--quick,)

lint: $(STAMP)
	$(BIN)/ruff check bdgf_nb tests notebooks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
