# Siyu — the two commands that matter: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
# The suite runs on one pytest-xdist worker per CPU, each with its own test database (`<name>_gw0`, …);
# `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup

.PHONY: demo test install install-dev lint typecheck pytest pytest-postgres browser-deps messages bench clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "Siyu needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1). Try: make demo PYTHON=python3.11"; \
		exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

# A local demo runs with SIYU_DEBUG=1 (development secret key, local hosts only); see README.
demo: export SIYU_DEBUG ?= 1
demo: install
	$(BIN)/siyu migrate --no-input --verbosity 0
	$(BIN)/siyu demo --url http://$(HOST):$(PORT)/
	$(BIN)/siyu serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SIYU_TESTING=1 $(BIN)/lint-imports

typecheck: install-dev
	SIYU_TESTING=1 $(BIN)/mypy siyu tests bench

browser-deps:
	@test -x /usr/bin/chromium || { \
		echo "Installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null; }

pytest: install-dev browser-deps
	$(BIN)/pytest $(PYTEST_PARALLEL)

pytest-postgres: install-dev browser-deps
	@$(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=5).close()" \
		|| { echo "PostgreSQL at $(PG_TEST_URL) is unreachable"; exit 1; }
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest $(PYTEST_PARALLEL)

test: lint typecheck pytest
ifeq ($(CI),true)
test: pytest-postgres
endif

# Refresh the zh_Hans catalogue from the code, then compile it (needs GNU gettext). The compiled .mo is
# committed, so `make demo` and CI never need gettext.
messages: install-dev
	cd siyu && SIYU_TESTING=1 ../$(BIN)/django-admin makemessages -l zh_Hans --ignore 'static/*' --ignore 'vendor/*' --settings siyu.settings
	cd siyu && SIYU_TESTING=1 ../$(BIN)/django-admin compilemessages --settings siyu.settings
	msgfmt --check-format --statistics -o /dev/null siyu/locale/zh_Hans/LC_MESSAGES/django.po

clean:
	rm -rf $(VENV) var build *.egg-info
