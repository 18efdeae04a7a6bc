# The two commands that matter: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench prometheus hey clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

prometheus:
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian's prometheus package (prometheus + promtool)"; \
	    (apt-get install -y -qq prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq prometheus; }) ; \
	  else \
	    echo "gatepack needs the 'prometheus' and 'promtool' binaries: run 'sudo apt-get install prometheus'" >&2; exit 1; \
	  fi; }

hey:
	@command -v hey >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian's hey package (load-test tests)"; \
	    (apt-get install -y -qq hey >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hey; }) ; \
	  else \
	    echo "the load-test tests need 'hey': run 'sudo apt-get install hey'" >&2; exit 1; \
	  fi; }

demo: $(STAMP) prometheus
	$(BIN)/python -m collector.demo

test: $(STAMP) prometheus hey
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) prometheus
	$(BIN)/python bench/collect.py

clean:
	rm -rf $(VENV) evidence .pytest_cache .ruff_cache
