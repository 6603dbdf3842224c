# The front door. `make run` starts the whole service on its embedded default; `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run demo test lint typecheck messages audit-deps bench bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: web (gunicorn), worker and beat (Celery) on SQLite, a local folder store and a file broker.
run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py init_keys
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@# The banner (URL, how to create demo data) prints once the web process answers /healthz.
	$(BIN)/python -m ops.banner http://127.0.0.1:$(PORT) &
	PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) LOG_FORMAT=$${LOG_FORMAT:-plain} $(BIN)/honcho start --procfile Procfile --port $(PORT)

## demo: play a remote-support tool against the service `make run` started (idempotent).
demo: $(VENV)/.runtime
	$(BIN)/python manage.py demo --url http://127.0.0.1:$(PORT)

## test: the whole suite (DATABASE_URL / CELERY_BROKER_URL select PostgreSQL and Redis when set), on
## one process per core, at most 4 (pytest-xdist); TEST_PROCESSES=0 runs it in this one process.
TEST_PROCESSES ?= auto
test: $(VENV)/.dev
	$(BIN)/pytest --numprocesses $(TEST_PROCESSES) --maxprocesses 4 --dist worksteal $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy .

## messages: extract every marked string into locale/de/LC_MESSAGES/django.po (no source locations,
## so catalogues merge cleanly) and compile it to django.mo; commit both (needs GNU gettext).
messages: $(VENV)/.runtime
	$(BIN)/python manage.py makemessages --locale de --no-location --no-obsolete --no-wrap --ignore '.venv/*' --ignore 'tests/*' --ignore 'bench/*' --ignore 'var/*' --ignore 'deploy/*'
	$(BIN)/python manage.py compilemessages --locale de --ignore '.venv/*'

## audit-deps: every installed package (pinned and transitive) against known vulnerabilities (pip-audit).
## Fails on a known vulnerability; a package the service cannot look up is listed as skipped. Where
## the service is always reachable, PIP_AUDIT_FLAGS=--strict fails on skipped packages too.
audit-deps: $(VENV)/.dev
	$(BIN)/pip-audit --progress-spinner off $(PIP_AUDIT_FLAGS)

## bench: ingest and playback (local store), purge, vacuum and ledger (need PostgreSQL; DATABASE_URL names the server).
## Full size, minutes each: run by hand on a quiet machine, never in CI.
bench: $(VENV)/.dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/playback.py
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python bench/purge.py
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python bench/vacuum.py
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python bench/ledger.py

## bench-smoke: every script in bench/ with --smoke (seconds each; PostgreSQL where it needs a database,
## DATABASE_URL names the server), failing if one fails or prints no figures; then every figure table
## in bench/README.md checked against what its script printed (bench/smoke.py). CI runs it.
bench-smoke: $(VENV)/.dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python bench/smoke.py $(BENCH_SMOKE_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
