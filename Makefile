# Two commands on a fresh machine:
#   make run    set up .venv if missing, run all notebooks headless on the synthetic scene (quick)
#   make test   set up .venv if missing, then lint, type-check, unit tests and notebook runs (JOBS at a time)
#   make test-browser  the notebooks in JupyterLab in headless Chromium (Playwright); installs
#               Debian's chromium (apt) and the `browser` extra when missing; screenshots: outputs/browser/
# QUICK=0 for the full-size run; DATASET=name for another catalog scene (or DATASET=all);
# JOBS: notebook 03's runs trained that many at a time in one-thread processes, then the notebooks
# run that many at a time, one thread each (bdgf-run --jobs; docs/BENCH.md, "Threads and
# processes"); default 2 where there are 2 cores or more, else 1.
VENV    ?= .venv
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
DATASET ?= synthetic
QUICK   ?= 1
SEED    ?= 0
JOBS    ?= $(shell test "$$(nproc 2>/dev/null || echo 1)" -ge 2 && echo 2 || echo 1)
OUT     ?= outputs
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed
# install into the venv with uv (bytecode compiled, as pip does), falling back to pip
install  = { $(BIN)/python -m pip install -q uv && $(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python $(1); } \
           || $(BIN)/python -m pip install -q $(1)
BROWSER_STAMP = $(VENV)/.installed-browser
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup run test lint typecheck unit clean test-browser chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first: a pinned CPU-friendly build (from the machine's wheel folder, which only pip reads),
	# so the project install never pulls another one; its bytecode compiled on all cores afterwards
	# (pip compiles one file at a time: 49 s for torch, against 14 s + 10 s this way, measured).
	# Without its dependencies: uv installs them with the project and compiles them (pip's
	# --no-compile had left sympy without bytecode, 1 s more in every process that builds an optimiser)
	$(BIN)/python -m pip install -q --no-compile --no-deps "$(TORCH)"
	$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/torch" > /dev/null || true  # pip too skips the files torch ships for newer Pythons
	# the project with uv (its resolver and parallel downloads: 9 s against pip's 60 s), pip if uv fails
	$(call install,-e '.[dev]')
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/bdgf-run --dataset $(DATASET) --seed $(SEED) --jobs $(JOBS) --out $(OUT) $(if $(filter 1,$(QUICK)),--quick,)

# the project's sources only: a run's outputs, wherever OUT puts them, are not linted
SOURCES  = bdgf_nb tests notebooks docs scripts

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy

# JOBS > 1: pytest-xdist runs the tests in that many worker processes, two tests handed out at a
# time (tests/conftest.py starts each worker on one of the longest, by their measured seconds)
unit: $(STAMP)
	$(BIN)/python -m pytest -q --durations=10 $(if $(filter-out 1,$(JOBS)),-n $(JOBS) --maxschedchunk 2,)

test: lint typecheck unit

# Playwright's Python package only: it drives the system Chromium, never `playwright install`.
$(BROWSER_STAMP): $(STAMP) pyproject.toml
	export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1; $(call install,-e '.[browser]')
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
