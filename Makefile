# The two commands of the README:  `make demo` (the main job)  and  `make test` (everything CI checks).
# Both create .venv if missing and install the project with the pinned constraints; both are quick once it exists.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vividportraits-installed
DEMO_DIR ?= runs/demo
# Notebook tests run in parallel workers on few cores; idle OpenMP threads that spin instead of sleeping slow
# small torch kernels down many times over when processes share cores.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: bootstrap demo test sync notebooks docs check-notebooks nbtest pytest bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing vividportraits and its pinned environment into $(VENV) (first time: a few minutes)..."
	$(BIN)/python -m pip install -qq -c constraints.txt -e ".[faces,dev,cluster]"
	$(BIN)/python -m ipykernel install --sys-prefix --name vividportraits --display-name "Python (vividportraits)" >/dev/null
	$(BIN)/vividportraits fetch-weights
	@touch $(STAMP)

bootstrap: $(STAMP)

# The main job on the embedded default (synthetic data, smoke preset).
demo: $(STAMP)
	$(BIN)/vividportraits demo --out $(DEMO_DIR)

# Everything CI checks: notebooks clean, library in sync, notebook tests, pytest.
test: $(STAMP)
	@bash tools/check_notebooks.sh $(BIN)
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/python -m pytest -q tests

# After editing notebooks: export the library and clean the notebooks.
sync: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean

# Execute every library notebook in order on CPU, in place (outputs + an execution stamp that
# tests/test_notebooks_gate.py compares), then nbdev-clean. Only the cells nbdev-test runs are executed.
notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py

# A static HTML site of the (executed) notebooks, the README and docs/*.md under _docs/ (nbconvert; offline, no Quarto).
docs: $(STAMP)
	$(BIN)/python tools/build_docs.py --out _docs

# CPU benchmarks (each prints its figures and the load average); the GPU ones: benchmarks/gpu_session.sh
bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do case $$b in *_gpu.py) continue;; esac; echo "== $$b"; $(BIN)/python $$b; done

clean-venv:
	rm -rf $(VENV)
