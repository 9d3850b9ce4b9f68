# dolphin-nor: every target creates .venv and installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test bench lint clean infra paper-check test-cluster

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

# two pytest-xdist workers: the real-cluster and paper-session tests mostly wait on the network and
# the members, so they overlap with the CPU-bound twin runs (tests/conftest.py groups tests that share
# an expensive fixture onto one worker)
TEST_WORKERS ?= 2
test: $(STAMP) lint infra
	bash tests/reports/ensure_chromium.sh
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --ignore=tests/paper_check --ignore=tests/cluster $(PYTEST_ARGS)

# nor run/sweep/explore --cluster on a real dask.distributed LocalCluster (2 worker processes): byte
# identity with the pool, a killed worker, refusals; its workers' cold numba compile takes minutes
test-cluster: $(STAMP)
	$(PY) -m pytest -q -rA tests/cluster $(PYTEST_ARGS)

# the paper loop's done-when run: 10 min of node time at 20x against three real members, scripted
# faults, compared with the twin, after promoting the default config on a default-suite run (~20 min;
# .ci/run runs it after make test); the session's run
# directory stays in $(PAPER_CHECK_DIR) (for CI artifacts)
PAPER_CHECK_DIR ?= .cache/paper-check
paper-check: $(STAMP) infra
	mkdir -p $(dir $(abspath $(PAPER_CHECK_DIR)))
	$(PY) -m pytest -q -rA --basetemp=$(PAPER_CHECK_DIR) tests/paper_check $(PYTEST_ARGS)

bench: $(STAMP) infra
	@for f in benchmarks/*_bench.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
