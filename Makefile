# The two commands that matter: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-serve test lint bench bench-loadtest bench-traces bench-startup prometheus victoria-metrics hey pushgateway postgresql chromium node go surefire clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# $(call apt_need,COMMANDS,PACKAGES): install Debian's PACKAGES when a command (or an absolute path) is missing
# (as root), else say what to do
define apt_need
	@missing=; for c in $(1); do command -v $$c >/dev/null 2>&1 || test -e $$c || missing=$$c; done; \
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

# the real test runners whose JUnit XML the tests check kind reads: Jest (from npm, needs node), gotestsum,
# and Maven Surefire resolved offline from Debian's packaged Maven repository
node:
	$(call apt_need,node npm,nodejs npm)

go:
	$(call apt_need,go gotestsum,golang-go gotestsum)

MAVEN_REPO := /usr/share/maven-repo
surefire:
	$(call apt_need,mvn javac $(MAVEN_REPO)/org/apache/maven/plugins/maven-surefire-plugin/2.22.3 $(MAVEN_REPO)/org/apache/maven/plugins/maven-compiler-plugin/3.10.1 $(MAVEN_REPO)/org/apache/maven/plugins/maven-resources-plugin/3.3.0 $(MAVEN_REPO)/junit/junit/4.13.2,maven openjdk-17-jdk-headless libsurefire-java libmaven-compiler-plugin-java libmaven-resources-plugin-java junit4)

demo: $(STAMP) prometheus
	$(BIN)/python -m collector.demo

# keeps the demo world's Prometheus running on a printed loopback URL until Ctrl-C (try the README on it)
demo-serve: $(STAMP) prometheus
	$(BIN)/gatepack demo --serve

test: $(STAMP) prometheus victoria-metrics hey pushgateway postgresql chromium node go surefire
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

bench-traces: $(STAMP)
	$(BIN)/python bench/traces.py

bench-startup: $(STAMP)
	$(BIN)/python bench/startup.py

clean:
	rm -rf $(VENV) evidence .pytest_cache .ruff_cache
