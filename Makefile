# The two set-up commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --disable-pip-version-check --quiet
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: demo test lint install sysdeps ui bench lock clean audit

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python dependencies from requirements.lock"
	@$(PIP) install --require-hashes --no-deps -r requirements.lock 2> >(grep -v "^WARNING: Location" >&2)
	@$(PIP) install --no-deps --no-build-isolation -e . 2> >(grep -v "^WARNING: Location" >&2)
	@$(BIN)/pip check > /dev/null
	@touch $(STAMP)

install: $(STAMP)

# System packages the tests need (R's survival/cmprsk for reference statistics).
sysdeps:
	@bash scripts/sysdeps.sh

# The demo lives in its own folder (never data/landing, where real deliveries may be); it is
# deleted only when it carries the marker this target writes.
DEMO := data/demo
DEMO_ENV := CARTWH_DATA=$(DEMO) CARTWH_DEMO=1

demo: install
	@if [ -e $(DEMO) ] && [ ! -f $(DEMO)/.made-by-make-demo ]; then \
		echo "$(DEMO) exists but was not made by make demo: move it away first" >&2; exit 2; fi
	@rm -rf $(DEMO) && mkdir -p $(DEMO) && touch $(DEMO)/.made-by-make-demo
	$(DEMO_ENV) $(BIN)/cartwh generate
	$(DEMO_ENV) $(BIN)/cartwh refresh
	@echo
	@echo "landing:   $$(pwd)/$(DEMO)/landing"
	@echo "warehouse: $$(pwd)/$(DEMO)/warehouse.duckdb   (try: $(DEMO_ENV) $(BIN)/cartwh sql --warehouse \"select * from raw.deliveries\")"
	@echo "analyst:   $$(pwd)/$(DEMO)/analyst   (PHI-free: analyst.duckdb, parquet/, codebook.md; try: $(DEMO_ENV) $(BIN)/cartwh sql \"select count(*) from mart.patient_outcomes\")"
	@echo "report:    $$(pwd)/$(DEMO)/output/report.html"
	@echo "output:    $$(pwd)/$(DEMO)/output   (tables/, figures/, queries/, data_docs/index.html)"
	@$(DEMO_ENV) $(BIN)/cartwh quality || true

test: sysdeps install lint
	$(BIN)/python -m pytest -n 2 --dist loadscope --durations=25

# ruff (configured in pyproject.toml): a lint or format finding fails `make test`.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --quiet .

# The benchmarks (benchmarks/results.json, figures in the README's "Scaling"; the simulation adds
# its key after bench_scale wrote the file), then the slow tests (a refresh of 10,000 generated
# patients end to end). Not part of `make test`.
bench: sysdeps install
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_disk.py
	$(BIN)/python benchmarks/bench_refresh.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python -m benchmarks.bench_simulation --replicates 200
	$(BIN)/python -m pytest -m slow -p no:cacheprovider

ui: install
	@test -f $(DEMO)/warehouse.duckdb || $(MAKE) demo
	$(DEMO_ENV) $(BIN)/cartwh ui

lock:
	@test -x $(BIN)/uv || $(MAKE) install
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--quiet -o requirements.lock
	$(BIN)/uv pip compile audit/requirements.in --generate-hashes --python-version 3.11 \
		--quiet -o audit/requirements.lock

# Known vulnerabilities of the locked dependencies (pip-audit, in a venv of its own so the audit
# tool is not part of what it audits). --strict: a dependency that could not be checked fails
# the audit instead of passing unseen. Accepted ones: audit/known-vulnerabilities.txt.
AUDIT_VENV := .venv-audit
AUDIT_IGNORED = $(shell grep -v '^\#' audit/known-vulnerabilities.txt | awk 'NF {print "--ignore-vuln", $$1}')
audit:
	@test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && \
		$(AUDIT_VENV)/bin/pip install --disable-pip-version-check --quiet --require-hashes \
		-r audit/requirements.lock 2> >(grep -v "^WARNING: Location" >&2); }
	$(AUDIT_VENV)/bin/pip-audit --strict --require-hashes --disable-pip -r requirements.lock \
		$(AUDIT_IGNORED)

clean:
	rm -rf $(VENV) .pytest_cache dbt_project/target dbt_project/logs dbt_project/generated
	@test ! -f $(DEMO)/.made-by-make-demo || rm -rf $(DEMO)
