# clearcap — the two commands of the README: `make demo` (main job) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DAYS ?= 90
NIGHTS ?= 7
# pytest workers (pytest-xdist): one per core; a module's tests stay on one worker, so its
# module-scoped fixtures are built once
TEST_WORKERS ?= auto
export CLEARCAP_LANDING ?= $(CURDIR)/var/landing
export CLEARCAP_WAREHOUSE ?= $(CURDIR)/var/warehouse.duckdb

.PHONY: demo test venv bench bench-small bench-mutation bench-history bench-history-peak docs clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev,postgres]'
	touch $(STAMP)

venv: $(STAMP)

# Main job: demo feeds for the last $(DAYS) days, then the nightly DAG through real Airflow
# (SQLite metadata under var/airflow) for each of the last $(NIGHTS) nights (the first of them
# catches up every earlier day), then the morning summary.
demo: $(STAMP)
	@set -e; \
	start=$$($(PY) -c "import datetime as d; print(d.date.today() - d.timedelta(days=$(DAYS)))"); \
	end=$$($(PY) -c "import datetime as d; print(d.date.today() - d.timedelta(days=1))"); \
	if [ ! -d "$$CLEARCAP_LANDING/exchange_office/$$end" ]; then \
	  $(VENV)/bin/clearcap demo --landing "$$CLEARCAP_LANDING" --start $$start --days $(DAYS); fi; \
	first=$$($(PY) -c "import datetime as d; print(d.date.today() - d.timedelta(days=$(NIGHTS)))"); \
	$(PY) -m transforms.orchestration run --from $$first --to $$end; \
	$(VENV)/bin/clearcap summary --warehouse "$$CLEARCAP_WAREHOUSE"; \
	echo; echo "Warehouse (open read-only): $$CLEARCAP_WAREHOUSE"; \
	echo "Dashboard: $$(dirname $$CLEARCAP_WAREHOUSE)/warehouse_dashboard.html"

# The suite, then the compose deployment in real containers (scripts/container_e2e.sh, about
# 9-11 min on a machine without docker, 6-8 with the images built; CLEARCAP_SKIP_CONTAINERS=1 skips it).
test: $(STAMP)
	bash scripts/install_chromium.sh
	bash scripts/ensure_services.sh
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=25
	PY=$(CURDIR)/$(PY) bash scripts/container_e2e.sh

bench: $(STAMP)
	$(PY) -m bench

bench-small: $(STAMP)
	$(PY) -m bench --small

# Mutation campaign, long form (issue 13): 20,000 damaged files through the readers, 3 full nights.
bench-mutation: $(STAMP)
	$(PY) -m bench.mutation --files 20000

# A year of item-level history (issue 11): 365 days x 4 M events into the Iceberg tables, then
# bytes per event, planning and the analyst queries. HISTORY_DAYS / HISTORY_EVENTS scale it down.
HISTORY_DAYS ?= 365
HISTORY_EVENTS ?= 4000000
bench-history: $(STAMP)
	$(PY) -m bench.history_year --days $(HISTORY_DAYS) --events $(HISTORY_EVENTS)

# The peak night (15 M events) on HISTORY_DAYS of synthesized history against the same night on
# 7 days (issue 11): the ratio, the private state's size, the analyst queries on the long side.
bench-history-peak: $(STAMP)
	$(PY) -m bench.history_peak --days $(HISTORY_DAYS) --events $(HISTORY_EVENTS)

docs: $(STAMP)
	$(VENV)/bin/clearcap docs --out docs/warehouse.md

clean:
	rm -rf var bench/out tests/output
