# The README's two commands: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: run test lint screenshots bench bundle clean

# Each step says what it does in one line (pip itself stays quiet unless it fails).
$(BIN)/python:
	@echo "make: creating the virtual environment $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed-app: pyproject.toml src/kvmq/__init__.py | $(BIN)/python
	@echo "make: installing kvmq and its dependencies into $(VENV) (pip; about 10 s the first time)"
	@$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml src/kvmq/__init__.py | $(BIN)/python
	@echo "make: installing kvmq with its test tools into $(VENV) (pip; about 20 s the first time)"
	@$(PIP) install -e '.[test]'
	@touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app
	@echo "make: starting $(BIN)/kvmq $(ARGS)"
	@$(BIN)/kvmq $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src
	@# Bytecode allowed for the run: with PYTHONDONTWRITEBYTECODE set (common in containers),
	@# every worker re-rewrote every test module and each of the ~250 kvmq subprocesses
	@# recompiled kvmq: a quarter of the suite's CPU.
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n 3 --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

screenshots: $(VENV)/.installed-test
	$(BIN)/python -m tests.screenshots

# Figures next to their floors (Textual, PyYAML) at 500, 5,000 and 20,000 dimensions; prints a
# table and writes benchmarks/results/latest.json. Takes a while: BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.installed-app
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# One file for air-gapped hosts: dist/kvmq.pyz, runs with `python3 kvmq.pyz` on Python 3.9+.
# Needs pip and a package index (or pip's mirrors) only here, at build time.
bundle: | $(BIN)/python
	$(BIN)/python scripts/build_bundle.py --output dist/kvmq.pyz

clean:
	rm -rf $(VENV) .venv-* dist build .pytest_cache .ruff_cache
