# OneGrid: two commands do all set-up on a fresh Debian 12 machine (as root or as a sudo user).
#   make demo   install what is missing, start the embedded PostGIS, load the demo district once, serve :8000
#   make test   install what is missing, lint, type-check and run the whole suite against a real PostGIS
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# PostgreSQL 15 + PostGIS 3 + pgRouting for the embedded cluster; venv support for Debian's Python.
# Chromium (and a CJK font for its screenshots) for the browser tests. Node.js and npm for the
# front-end libraries come from Debian only when no `npm` is on PATH (a NodeSource node bundles its own).
APT_PACKAGES := postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting python3-venv python3-dev \
	chromium fonts-wqy-microhei gdal-bin wrk curl
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
NPM_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
NOTEBOOK_PORT ?= 8888
LIVE ?= 1
EDGE_PORT ?= 8080

.PHONY: help setup system demo-db demo notebooks test lint bench bench-city soak clean edge

help:
	@echo "make demo    - set up, load the demo district once, serve on http://$(HOST):$(PORT)"
	@echo "make test    - set up, lint, type-check and run the test suite"
	@echo "make notebooks - the planners' notebooks in JupyterLab on http://$(HOST):$(NOTEBOOK_PORT)"
	@echo "make bench   - full-scale benchmarks (tests/bench), results in var/bench/"
	@echo "make bench-city - load, tiles, lookup, reports and hotspots on a demo city of CITY_DISTRICTS (6)"

system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@rm -f node_modules/.installed-*; touch $@

setup: system $(STAMP) $(NPM_STAMP)

# the database the demo and the notebooks use: the embedded cluster started (unless DATABASE_URL
# points elsewhere), the schema at head, the demo district loaded once
demo-db: setup
	$(BIN)/onegrid db start
	$(BIN)/onegrid db migrate
	$(BIN)/onegrid demo load --if-missing

# the server, and beside it (unless LIVE=0) the simulator that keeps the demo district moving
demo: demo-db
	@if [ "$(LIVE)" != "0" ]; then $(BIN)/onegrid demo live --url http://$(HOST):$(PORT) & fi; \
	$(BIN)/onegrid serve --host $(HOST) --port $(PORT)

# JupyterLab (from PyPI, in the project's venv) on notebooks/, offline: no update, news or extension
# look-ups (and --allow-root when run as root, as `make demo` may be);
# its URL with the login token is printed when it starts
notebooks: demo-db
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=$(HOST) --port=$(NOTEBOOK_PORT) --no-browser \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate --LabApp.news_url=None \
	  --LabApp.extension_manager=readonly $(if $(filter 0,$(shell id -u)),--allow-root)

# the tile edge cache (nginx from Debian) on :$(EDGE_PORT) in front of the server on :$(PORT); the server
# purges it when started with ONEGRID_EDGE_PURGE_URL=http://127.0.0.1:$(EDGE_PORT) (docs/scaling.md)
edge: APT_PACKAGES += nginx libnginx-mod-http-cache-purge
edge: setup
	$(BIN)/onegrid edge config --listen $(EDGE_PORT) --upstream $(HOST):$(PORT)
	$(BIN)/onegrid edge start

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# QGIS (Debian 12's 3.22, for Debian's python3) only for the test that opens OneGrid in it; nginx and
# its cache-purge module for the tile edge cache's test
test: APT_PACKAGES += python3-qgis nginx libnginx-mod-http-cache-purge
test: lint
	$(BIN)/pytest

# the simulator against two server workers with a PostgreSQL restart and a kill -9 (30 minutes;
# SOAK_MINUTES=5 for a try); figures in docs/reliability.md
soak: setup
	$(BIN)/pytest tests/soak -s

bench: APT_PACKAGES += nginx libnginx-mod-http-cache-purge
bench: setup
	@mkdir -p var/bench
	$(BIN)/pytest tests/bench --benchmark-json=var/bench/latest.json -s

# the same load, tile, lookup, report and hotspot benchmarks on a demo city of six districts
# (database onegrid_bench_city6), results in var/bench/results-city6.json
CITY_DISTRICTS ?= 6
bench-city: setup
	@mkdir -p var/bench
	ONEGRID_BENCH_DISTRICTS=$(CITY_DISTRICTS) $(BIN)/pytest -s --benchmark-json=var/bench/latest-city.json \
	  tests/bench/test_foundation_bench.py tests/bench/test_tiles_bench.py \
	  tests/bench/test_reports_bench.py tests/bench/test_hotspots_bench.py

clean:
	-$(BIN)/onegrid db stop
	rm -rf $(VENV) var node_modules test-artifacts
