# The front door. `make run` starts the whole service on its embedded default; `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint typecheck bench clean

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
	@echo ""
	@echo "  Session-recording vault on http://127.0.0.1:$(PORT)/  (API schema: /api/v1/schema)"
	@echo "  Create a recorder client:  $(BIN)/python manage.py create_recorder_client my-tool"
	@echo "  Stop with Ctrl-C."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) LOG_FORMAT=$${LOG_FORMAT:-plain} $(BIN)/honcho start --procfile Procfile --port $(PORT)

## test: the whole suite (DATABASE_URL / CELERY_BROKER_URL select PostgreSQL and Redis when set).
test: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy .

## bench: ingest (local store) and purge (needs PostgreSQL; DATABASE_URL names the server).
bench: $(VENV)/.dev
	$(BIN)/python bench/ingest.py
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python bench/purge.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
