# Two commands for a fresh machine:
#   make run    create .venv, install Masker, start the sidecar on 127.0.0.1:8080
#   make test   create .venv, install Masker with test extras, run the whole suite
export PYENV_VERSION ?= 3.12.1
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/masker run $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(ARGS)

bench: $(VENV)/.installed
	$(BIN)/python scripts/bench_detect.py --out out/bench_detect.json
	$(BIN)/python scripts/bench_audit.py --out out/bench_audit.json
	$(BIN)/python scripts/bench_proxy.py --out out/bench_proxy.json

clean:
	rm -rf $(VENV) .data out
