# The two commands of the README, and what they need.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## run regnotify on the embedded SQLite default
	$(VENV)/bin/regnotify serve

lint: $(STAMP)  ## ruff on the code, tests and benchmarks; mypy on src/ ([tool.mypy] in pyproject.toml)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

test: lint  ## run every test (PostgreSQL too when REGNOTIFY_TEST_POSTGRES_URL is set)
	$(VENV)/bin/pytest
