# Quickstart: `make demo` and `make test`. Both create or reuse .venv and install
# the package with its dev extras first (reinstalled when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.brainalign-installed
DEMO_DIR ?= demo_output

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/brainalign sample nsd --out $(DEMO_DIR)/sample_nsd --seed 0
	$(BIN)/brainalign info --dataset nsd --root $(DEMO_DIR)/sample_nsd
	$(BIN)/brainalign extract --model torch:brainalign.data.sample:SampleNet@0 \
	    --layers layer2,layer4,layer6 --dataset nsd --root $(DEMO_DIR)/sample_nsd \
	    --subject 1 --out $(DEMO_DIR)/features
	$(BIN)/brainalign fit --dataset nsd --root $(DEMO_DIR)/sample_nsd --subject 1 \
	    --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 \
	    --out $(DEMO_DIR)/run_fit
	$(BIN)/brainalign compare --dataset nsd --root $(DEMO_DIR)/sample_nsd --subjects 1,2 \
	    --models torch:brainalign.data.sample:SampleNet@0 --layers layer2,layer4,layer6 \
	    --workers 2 --out $(DEMO_DIR)/run_compare
	$(BIN)/brainalign caption $(DEMO_DIR)/run_fit
	$(BIN)/brainalign report $(DEMO_DIR)/run_compare
	$(BIN)/brainalign report $(DEMO_DIR)/run_fit

lint: $(STAMP)
	$(BIN)/ruff check brainalign tests benchmarks examples
	$(BIN)/ruff format --check brainalign tests benchmarks examples
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_nsd_loading.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_encoding.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache
