# The two commands that matter: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-serve test lint bench bench-loadtest prometheus victoria-metrics hey pushgateway postgresql chromium clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# $(call apt_need,COMMANDS,PACKAGE): install Debian's PACKAGE when a command is missing (as root), else say what to do
define apt_need
	@missing=; for c in $(1); do command -v $$c >/dev/null 2>&1 || missing=$$c; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian's $(2) package ($$missing is missing)"; \
	    apt-get install -y -qq $(2) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $(2); }; \
	  else \
	    echo "gatepack needs '$$missing': run 'sudo apt-get install $(2)'" >&2; exit 1; \
	  fi; \
	fi
endef

prometheus:
	$(call apt_need,prometheus promtool,prometheus)

# the second engine behind "Prometheus-compatible": the ground-truth tests run against it too
victoria-metrics:
	$(call apt_need,victoria-metrics,victoria-metrics)

hey:
	$(call apt_need,hey,hey)

# verdict metrics are pushed to a real Pushgateway; the store runs on PostgreSQL too; the board in Chromium
pushgateway:
	$(call apt_need,prometheus-pushgateway,prometheus-pushgateway)

postgresql:
	$(call apt_need,/usr/lib/postgresql/15/bin/pg_ctl,postgresql)

chromium:
	$(call apt_need,/usr/bin/chromium,chromium)

demo: $(STAMP) prometheus
	$(BIN)/python -m collector.demo

# keeps the demo world's Prometheus running on a printed loopback URL until Ctrl-C (try the README on it)
demo-serve: $(STAMP) prometheus
	$(BIN)/gatepack demo --serve

test: $(STAMP) prometheus victoria-metrics hey pushgateway postgresql chromium
	$(BIN)/python -m pytest -n 2 -q

# ruff, mypy (strict on the pure core slo/, default on collector/) and the import contracts in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict slo
	$(BIN)/mypy collector
	$(BIN)/lint-imports

bench: $(STAMP) prometheus
	$(BIN)/python bench/collect.py

bench-loadtest: $(STAMP)
	$(BIN)/python bench/loadtest_ndjson.py

clean:
	rm -rf $(VENV) evidence .pytest_cache .ruff_cache
