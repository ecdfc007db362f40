# craftdesk — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The CPU build of torch, pinned and installed before anything that depends on it, so no
# install can pull a multi-GB CUDA build. Elsewhere, point TORCH_PIP_ARGS at a CPU wheel index.
TORCH_SPEC     ?= torch==2.13.0
TORCH_PIP_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast lint system-deps telegram-emulator rebuild-index evaluate bench screenshots clean help

help:
	@echo "make run    - install into $(VENV) and serve on http://$(HOST):$(PORT) (SQLite + demo data)"
	@echo "make test   - install with test extras, lint (ruff, mypy) and run the whole test suite"
	@echo "make lint   - ruff check, ruff format --check and mypy only"
	@echo "make rebuild-index | evaluate | bench | clean"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e ".[test]"
	touch $@

# A development server: the demo knowledge goes into an empty database (the setting is off by
# default, so a deployment started any other way never gets it). `make run
# CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY=false`, or the variable set in the environment, turns it off.
run: export CRAFTDESK_IMPORT_DEMO_WHEN_EMPTY ?= true
run: $(VENV)/.installed
	$(PY) -m bot --host $(HOST) --port $(PORT)

# What the tests use from Debian: PostgreSQL, Redis and nginx (several instances), Chromium (browser
# tests), poppler-utils (PDF to PNG) and a Chinese font (QR sheets). Installed when we are root
# and they are missing; otherwise the tests that need them are skipped with the reason.
system-deps:
	@if [ "$$(id -u)" = 0 ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "installing PostgreSQL (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if [ "$$(id -u)" = 0 ] && ! command -v redis-server >/dev/null; then \
		echo "installing Redis (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	fi
	@if [ "$$(id -u)" = 0 ] && [ ! -x /usr/sbin/nginx ]; then \
		echo "installing nginx (Debian package; its service is not started: the tests run their own nginx)"; \
		if [ -e /usr/sbin/policy-rc.d ]; then mv /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.craftdesk; fi; \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; status=$$?; \
		rm -f /usr/sbin/policy-rc.d; \
		if [ -e /usr/sbin/policy-rc.d.craftdesk ]; then mv /usr/sbin/policy-rc.d.craftdesk /usr/sbin/policy-rc.d; fi; \
		exit $$status; \
	fi
	@if [ "$$(id -u)" = 0 ] && { [ ! -x /usr/bin/chromium ] || ! command -v pdftoppm >/dev/null || [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; }; then \
		echo "installing Chromium, poppler-utils and a Chinese font (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils fonts-wqy-microhei >/dev/null; \
	fi

# The Bot API emulator (npm telegram-test-api, pinned) for the Telegram end-to-end tests.
telegram-emulator:
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/telegram/emulator --no-audit --no-fund --silent; \
	else echo "npm not found: the Telegram end-to-end tests will be skipped"; fi

# Lint: ruff (rules and format) on the whole tree, mypy on the files pyproject.toml names
# (strict on bot/service, retrieval and knowledge). Both `test` targets run it first.
lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint $(VENV)/.installed-test system-deps telegram-emulator
	$(PY) -m pytest

test-fast: lint $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow"

rebuild-index: $(VENV)/.installed
	$(PY) scripts/rebuild_index.py

evaluate: $(VENV)/.installed
	$(PY) scripts/evaluate.py

bench: $(VENV)/.installed
	$(PY) scripts/bench.py

screenshots: $(VENV)/.installed-test system-deps
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .cache .pytest_cache tests/telegram/emulator/node_modules
