# Two commands for a newcomer:  make run  (serve the demo)  and  make test.
# Each creates the virtual environment and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test chromium bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pairwise db upgrade
	$(BIN)/pairwise demo
	@echo "serving on http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	$(BIN)/pairwise run --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium; install it when it is missing.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

# SQLite by default; PostgreSQL with PAIRWISE_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test
test: $(STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	$(BIN)/python scripts/bench_ranking.py

clean:
	rm -rf $(VENV) .pytest_cache
