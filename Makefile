# 乡村人居环境巡查整改系统 — see README.md
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: system demo test test-postgres bench lint messages install serve clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Debian packages for PDFs (pango, a CJK font) and translations; see bin/system-packages.
system:
	bin/system-packages

## make demo: install, migrate, load 金乡县, create demo users, install schedules, serve + qcluster
# The demo lives in its own data directory (SQLite file, media, secret key): a real county's
# database under var/ (or DATABASE_URL) is never touched, and load_demo refuses one anyway.
DEMO_DATA_DIR ?= $(CURDIR)/var/demo
demo: export DEBUG ?= 1
demo: system $(STAMP)
	@mkdir -p $(DEMO_DATA_DIR) && echo "make demo's data directory: the demo administrator's known password is allowed only here" > $(DEMO_DATA_DIR)/DEMO
	DATA_DIR=$(DEMO_DATA_DIR) DATABASE_URL= REDIS_URL= $(PY) manage.py migrate --noinput
	DATA_DIR=$(DEMO_DATA_DIR) DATABASE_URL= REDIS_URL= $(PY) manage.py load_demo
	DATA_DIR=$(DEMO_DATA_DIR) DATABASE_URL= REDIS_URL= $(PY) manage.py setup_schedules
	$(MAKE) --no-print-directory serve DATA_DIR=$(DEMO_DATA_DIR) DATABASE_URL= REDIS_URL=

# Web server and django-q2 cluster together; Ctrl-C stops both (bin/serve.py).
serve: export DEBUG ?= 1
serve: $(STAMP)
	$(PY) bin/serve.py $(HOST):$(PORT)

## make test: the whole suite (SQLite; PostgreSQL too when DATABASE_URL is set)
# The suite runs with DEBUG=1 settings (dev static storage, no HTTPS redirect); pytest-django
# still runs every test with DEBUG off. Production settings are checked by a test of their own.
test: export DEBUG ?= 1
test: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

# make bench BENCH="bench_scan bench_grading": only those; BENCH=bench_province (PostgreSQL
# DATABASE_URL, BENCH_PROVINCE_SIZE=full for the full size) runs only when named.
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Needs GNU gettext (apt-get install gettext); the compiled catalogue is committed.
messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --add-location file -i tests -i bench -i var
	$(PY) manage.py compilemessages -l zh_Hans --ignore .venv

clean:
	rm -rf $(VENV) var .pytest_cache
