# `make demo` and `make test` work on a fresh machine with Python 3.11: each builds .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint benchmark clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pl-lrfind demo

# Two workers, one per core; a module's tests stay on one worker, so its shared setups run once.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadscope

# Everything but the slow tests (notebook, TensorBoard server, DDP, demo, benchmark smoke): for iterating.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadscope -m "not slow"

# About 20 minutes on 2 cores; regenerates the reusable benchmark's results (not the oracle, the
# experiments or the GPU runs) and docs/benchmarks.md.
benchmark: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check pl_lrfind tests benchmarks
	$(BIN)/ruff format --check pl_lrfind tests benchmarks

# The venv, and every run directory the demo, the notebook and a fit without default_root_dir can write.
clean:
	rm -rf $(VENV) pl_lrfind_runs lightning_logs notebooks/walkthrough_runs notebooks/lightning_logs .pytest_cache benchmarks/.cache
