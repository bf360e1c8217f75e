# Taskbook's two everyday commands (see README): `make run` and `make test`.
# Each sets itself up first: a virtual environment in .venv with Taskbook installed.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test lint postgres chromium bench setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## run: on the embedded SQLite store, run the example flow and show its runs, deploy an
## example notebook, then start JupyterLab (with the Taskbook sidebar) on the quick-start
## notebook together with the scheduler and a worker (Ctrl-C stops both)
run: setup
	$(BIN)/taskbook demo
	$(BIN)/taskbook deploy notebooks/cells_as_tasks.ipynb --name sensors --interval 15m
	$(BIN)/taskbook run sensors
	$(BIN)/taskbook lab notebooks/quickstart.ipynb

## test: lint, type-check and run the whole suite (starts PostgreSQL if it is down,
## installs Chromium for the browser tests if it is missing)
test: setup postgres chromium lint
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check kernel_ext papermill_bridge tests bench
	$(BIN)/ruff format --check kernel_ext papermill_bridge tests bench
	$(BIN)/mypy

chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
		echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1

## bench: runtime and Dask benchmarks, side by side with Prefect 3 and prefect-dask
## (installed in .venv-bench), then the writer's throughput with events and automations
bench:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet -e '.[dask]' 'prefect>=3,<4' prefect-dask
	.venv-bench/bin/python bench/runtime.py
	.venv-bench/bin/python bench/on_dask.py
	.venv-bench/bin/python bench/events.py

clean:
	rm -rf $(VENV) .venv-bench .pytest_cache .mypy_cache .ruff_cache
