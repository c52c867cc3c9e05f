# The commands of the README and docs/development.md. Each sets itself up: a .venv with the project and its
# dev extras, created or refreshed when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAKE ?= lakehouse
PYTEST_ARGS ?=
# Two pytest workers: the real-Airflow tests (mostly waiting on a scheduler and on
# spark-submits) run beside the rest (tests/conftest.py groups them).
PYTEST_WORKERS ?= 2

.PHONY: help demo check test lint docs bench soak check-env clean airflow jars tools

help:
	@echo "make jars   fetch the Delta and hadoop-aws jars into .jars/ (once; make test and make demo do it)"
	@echo "make demo   the whole loop in ./$(LAKE): data with drift, features, a champion, daily scores, drift and the report"
	@echo "make tools  Alertmanager and Pushgateway binaries for the tests, into .tools/prometheus/ (once; make check and make test do it)"
	@echo "make check  while changing code: lint, types, import contract, the tests not marked slow or airflow (minutes)"
	@echo "make test   everything make check does, then the whole test suite (what CI runs)"
	@echo "make docs   the docs site (docs/, mkdocs.yml) on http://127.0.0.1:8000"
	@echo "make bench  run the benchmarks under bench/ (minutes)"
	@echo "make soak   a simulated year of daily cycles with weekly maintenance, then without (bench/soak.py; hours)"
	@echo "make airflow  Airflow 3 standalone on http://127.0.0.1:8080: the DAGs of dags/ against ./$(LAKE)"
	@echo "make clean  remove the demo lakehouse (keeps .venv)"

check-env:
	@scripts/check-env.sh $(PYTHON)

$(STAMP): pyproject.toml
	@scripts/check-env.sh $(PYTHON)
	@[ -x $(BIN)/python ] || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing lakeops and its dependencies into $(VENV) (a few minutes the first time)"
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev]'
	@touch $(STAMP)

# The JVM jars beyond pyspark's (lakeops.jars): Maven fetches them once, Spark's Ivy if mvn is absent.
jars: check-env $(STAMP)
	$(BIN)/python -m lakeops.jars

demo: check-env $(STAMP)
	$(BIN)/python -m lakeops.jars delta
	$(BIN)/lakeops --lake $(LAKE) demo --reset

# Static checks: style, SQL style, types of lib/, which package may import which (pyproject.toml),
# and the docs site (mkdocs.yml), built strictly: a broken link or a page missing from nav fails.
lint: check-env $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint sql/
	$(BIN)/mypy
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# The docs site on http://127.0.0.1:8000, rebuilt as pages change.
docs: check-env $(STAMP)
	$(BIN)/mkdocs serve

# The Alertmanager and Pushgateway the alert and metrics tests start: Debian's packages, downloaded
# and unpacked into .tools/prometheus/ (nothing installed on the system; nothing done once there).
tools:
	@scripts/prometheus-tools.sh

# Fast feedback: the static checks and every test not marked slow (whole loop lakes, extra JVMs
# and processes) or airflow (a real scheduler); tests/conftest.py marks the Spark ones `spark`.
check: lint jars tools
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow and not airflow" $(PYTEST_ARGS)

test: lint jars tools
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: check-env $(STAMP)
	$(BIN)/python bench/lake_overwrite.py
	$(BIN)/python bench/train_scaling.py
	$(BIN)/python bench/score_throughput.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/interactive.py
	$(BIN)/python bench/performance.py --quick
	$(BIN)/python bench/performance.py --problem regression --quick
	$(BIN)/python bench/performance.py --problem multiclass --quick
	$(BIN)/python bench/prepare.py --repeats 1
	$(BIN)/python bench/report_render.py

soak: check-env $(STAMP)
	$(BIN)/python -m lakeops.jars delta
	$(BIN)/python bench/soak.py --days 365
	$(BIN)/python bench/soak.py --days 365 --no-maintenance

airflow: check-env $(STAMP)
	LAKEOPS_LAKE=$(abspath $(LAKE)) BIN=$(abspath $(BIN)) scripts/airflow-local.sh

clean:
	rm -rf $(LAKE) spark-warehouse metastore_db derby.log .airflow
