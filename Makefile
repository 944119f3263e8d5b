# acd: two commands on a fresh Debian/Ubuntu machine:
#   make demo   -- install what is needed, start Asterisk + the engine + the web console, place sipp calls, show what happened (Ctrl-C stops)
#   make test   -- install what is needed and run every test (unit and end-to-end on the real Asterisk)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
LAB    := deploy/asterisk/lab.sh

SBOM ?= dist/sbom.cdx.json

.PHONY: sbom deps setup test test-unit test-lab demo bench asterisk-up asterisk-down asterisk-cli asterisk-status lint clean

deps:
	@deploy/install-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

setup: deps $(VENV)/.installed

# Faults only (pyflakes, bugbear, ...: see [tool.ruff] in pyproject.toml); no formatting.
lint: setup
	$(PY) -m ruff check src tests

test: setup lint
	$(PY) -m pytest -q --durations=15

test-unit: setup
	$(PY) -m pytest -q -m "not lab"

test-lab: setup
	$(PY) -m pytest -q -m lab

demo: setup
	$(PY) -m acd.lab.demo

# Every benchmark, each printing its JSON (with the machine) on stdout; see below for how long.
# The lab ones bring up their own Asterisk lab ("bench", "cps", "faults") and stop it afterwards.
# About an hour in all, most of it the parity runs, the fault sweep and the 30-minute lab soak.
BENCH_CPS ?=  # e.g. --rates 8,16,32 --hold 10 (see acd bench cps --help)
bench: setup
	$(PY) -m acd bench routing --agents 2000 --skills 64 --waiting 500 --json
	$(PY) -m acd bench simulate --repeat 1
	$(PY) -m acd bench ami-ingest
	$(PY) -m acd bench ami-small-reads
	$(PY) -m acd bench soak --hours 6 --warm-up 2 --no-trace --json
	$(PY) -m acd bench dispatch --calls 40 --json
	$(PY) -m acd bench wallboard --screens 50 --json  # issue 15: event -> browser p99 with 50 open wallboards (acd run + acd web, no Asterisk)
	$(PY) -m acd bench reports  # issue 15: a month < 1 s, a year < 3 s from stored quarter-hour cells
	$(PY) -m acd bench store  # issue 21: events/s sustained into PostgreSQL (a throwaway local cluster) vs SQLite
	env -u ACD_TEST_LAB_SLOT $(PY) -m acd bench cps --json $(BENCH_CPS)
	env -u ACD_TEST_LAB_SLOT $(PY) -m acd bench parity --json --sides app_queue,acd,wire  # issue 20: the same traffic through app_queue and acd, CPU per call side by side, and the floor under the engine (wire)
	env -u ACD_TEST_LAB_SLOT $(PY) -m acd bench faults --json --repeat 5  # issue 13: AMI drop, freeze, kill -9, restart x5 under sipp traffic
	env -u ACD_TEST_LAB_SLOT $(PY) -m acd bench faults --json --repeat 5 --backlog 5  # issue 13: the same with >= 5 callers on hold at each fault
	env -u ACD_TEST_LAB_SLOT $(PY) -m acd bench takeover --json --kills 10  # issue 21: hot standby, the leader killed -9 x10 under sipp traffic: takeover p50/max, callers lost
	env -u ACD_TEST_LAB_SLOT $(PY) -m acd bench lab-soak --json --minutes 30 --rate 4 --answer 0.3 --talk 0.5  # issue 13: RSS growth per 1,000 calls (~3.5 help-line days), verdict flat/not flat

# The declared list of software components (CycloneDX JSON): the Python environment and
# the Asterisk root's Debian packages, with versions and licences, read from what is installed.
sbom: setup
	@ACD_LAB_BACKEND=chroot $(LAB) build
	$(PY) -m acd sbom -o $(SBOM)

asterisk-up: deps
	@$(LAB) up

asterisk-down:
	@$(LAB) down

asterisk-cli:
	@$(LAB) cli

asterisk-status:
	@$(LAB) status

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
