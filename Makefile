# Two commands on a fresh machine:
#   make run    set up .venv if missing, run all notebooks headless on the synthetic scene (quick)
#   make test   set up .venv if missing, then lint, type-check, unit tests and notebook runs
#   make test-browser  the notebooks in JupyterLab in headless Chromium (Playwright); installs
#               Debian's chromium (apt) and the `browser` extra when missing; screenshots: outputs/browser/
# QUICK=0 for the full-size run; DATASET=name for another catalog scene (or DATASET=all);
# JOBS=2 trains notebook 03's runs two at a time in one-thread processes (bdgf-run --jobs).
VENV    ?= .venv
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
DATASET ?= synthetic
QUICK   ?= 1
SEED    ?= 0
JOBS    ?= 1
OUT     ?= outputs
BIN      = $(VENV)/bin
# idle OpenMP threads of torch and numba busy-wait by default: 10-40x slower on shared cores
export OMP_WAIT_POLICY ?= PASSIVE
STAMP    = $(VENV)/.installed
BROWSER_STAMP = $(VENV)/.installed-browser
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup run test lint typecheck unit clean test-browser chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first: a pinned CPU-friendly build, so the project install never pulls another one
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/bdgf-run --dataset $(DATASET) --seed $(SEED) --jobs $(JOBS) --out $(OUT) $(if $(filter 1,$(QUICK)),--quick,)

lint: $(STAMP)
	$(BIN)/ruff check bdgf_nb tests notebooks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q --durations=10

test: lint typecheck unit

# Playwright's Python package only: it drives the system Chromium, never `playwright install`.
$(BROWSER_STAMP): $(STAMP) pyproject.toml
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install -q -e '.[browser]'
	touch $(BROWSER_STAMP)

chromium:
	@test -x $(CHROMIUM) || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  echo "installing Debian's chromium (missing: $(CHROMIUM))"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) still missing after apt-get install chromium"; exit 1; }

test-browser: $(BROWSER_STAMP) chromium
	BDGF_CHROMIUM=$(CHROMIUM) BDGF_BROWSER_OUT=$(OUT)/browser PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
	  $(BIN)/python -m pytest -m browser tests/browser -v -s --timeout=3600

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
