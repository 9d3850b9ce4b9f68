# dolphin-nor: every target creates .venv and installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test bench lint clean infra

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c .ci/constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/nor run

lint: $(STAMP)
	$(VENV)/bin/lint-imports

# the real Hazelcast 5.7.0 jar and Toxiproxy 2.12.0 server (infra/pins.toml), cached in
# $$NOR_INFRA_CACHE (default .cache/infra); a second run only checks them
infra: $(STAMP)
	$(PY) -m infra

test: $(STAMP) lint infra
	bash tests/reports/ensure_chromium.sh
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP) infra
	@for f in benchmarks/*_bench.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
