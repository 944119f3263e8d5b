# acd: two commands on a fresh Debian/Ubuntu machine:
#   make demo   -- install what is needed, start Asterisk + the engine, place sipp calls, show what happened
#   make test   -- install what is needed and run every test (unit and end-to-end on the real Asterisk)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
LAB    := deploy/asterisk/lab.sh

.PHONY: deps setup test test-unit test-lab demo bench asterisk-up asterisk-down asterisk-cli asterisk-status lint clean

deps:
	@deploy/install-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

setup: deps $(VENV)/.installed

test: setup
	$(PY) -m pytest -q

test-unit: setup
	$(PY) -m pytest -q -m "not lab"

test-lab: setup
	$(PY) -m pytest -q -m lab

demo: setup
	$(PY) -m acd.lab.demo

bench: setup
	$(PY) -m acd bench routing --agents 2000 --skills 64 --waiting 500 --json

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
