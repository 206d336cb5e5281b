# Comptoir: `make run` to run it, `make test` to check it. Every target is idempotent: the
# virtual environment is created once, dependencies are reinstalled only when pyproject.toml
# changes, migrations apply only what is new and the demo loads only into an empty database.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_WORKERS ?= 2
# Tryton 8, the reference ERP peer, lives in its own environment (the tests start it).
TRYTON_VENV ?= .venv-tryton

.PHONY: run test install install-test lint clean tryton erp-demo

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Comptoir needs Python 3.11 or later (PYTHON=$(PYTHON))."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Cannot create a virtual environment: on Debian/Ubuntu install python3.11-venv."; \
		exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall when pyproject.toml changes, not on every run.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# A separate environment: Tryton pins its own dependencies (and must not see Comptoir's).
$(TRYTON_VENV)/.installed:
	@$(PYTHON) -m venv $(TRYTON_VENV) || { rm -rf $(TRYTON_VENV); \
		echo "Cannot create a virtual environment: on Debian/Ubuntu install python3.11-venv."; \
		exit 1; }
	$(TRYTON_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TRYTON_VENV)/bin/python -m pip install --quiet "setuptools>=61" wheel \
		"trytond>=8,<9" "proteus>=8,<9" \
		"trytond_party>=8,<9" "trytond_product>=8,<9" "trytond_sale>=8,<9" \
		"trytond_account_invoice>=8,<9" "trytond_company>=8,<9" "trytond_currency>=8,<9" \
		"trytond_account>=8,<9"
	@touch $@

tryton: $(TRYTON_VENV)/.installed

run: install
	$(BIN)/comptoir migrate --noinput
	$(BIN)/comptoir demo --if-empty
	$(BIN)/comptoir serve --host $(HOST) --port $(PORT)

# A local Tryton ERP with sample data, synced into Comptoir every 10 s (see the README).
erp-demo: install $(TRYTON_VENV)/.installed
	$(BIN)/comptoir migrate --noinput
	$(BIN)/comptoir erpdemo

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/comptoir makemigrations --check --dry-run

# On SQLite by default; with DATABASE_URL=postgres://… set, on PostgreSQL.
test: lint $(TRYTON_VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
