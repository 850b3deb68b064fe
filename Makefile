# Two commands for a fresh machine:
#   make run    create .venv, install Masker from the lock files, start the sidecar on 127.0.0.1:8080
#   make test   create .venv, install Masker + test tools from the lock files, run the whole suite
#               (after `make lint`: ruff and mypy on addons/, configured in pyproject.toml)
# and one for maintainers:
#   make lock   re-resolve requirements.lock (runtime) and requirements-test.lock (runtime + [test])
#               after a pyproject.toml change; LOCK_ARGS=--upgrade moves every pin to its newest allowed version
#
# The lock files pin every package, with hashes, for CPython 3.12 on Linux x86_64
# (where the runtime is onnxruntime-gpu); `make lock` must run on that platform.
# The test lock is resolved under the runtime lock (--constraint), so tests run
# the exact versions production installs. .venv is rebuilt from scratch when a
# lock file or pyproject.toml changes, so it holds exactly what the lock says.
export PYENV_VERSION ?= 3.12.1
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=
LOCK_VENV := .venv-lock
LOCK_TOOL := pip-tools==7.7.0
LOCK_INDEX ?= https://pypi.org/simple
LOCK_ARGS ?=
LOCK_HEADER := \# Lock for CPython 3.12 on Linux x86_64 (onnxruntime-gpu); refresh with `make lock`, do not edit.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --all-build-deps \
	--index-url $(LOCK_INDEX) --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: run lint test bench lock clean

$(VENV)/.installed: requirements.lock requirements-test.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --only-binary=:all: -r requirements-test.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# System packages the tests drive, installed with apt-get when missing (sudo unless root): Debian's
# chromium + chromedriver (the live view's browser test, tests/e2e/test_e2e_live_view.py) and iptables
# (the transparent-mode deployment test, tests/e2e/test_e2e_deploy.py). Neither test skips without them.
TEST_TOOLS := /usr/bin/chromedriver /usr/sbin/iptables
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(TEST_TOOLS) &:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver iptables

run: $(VENV)/.installed
	$(BIN)/masker run $(ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check addons
	$(BIN)/mypy

test: $(VENV)/.installed lint $(TEST_TOOLS)
	$(BIN)/python -m pytest $(ARGS)

bench: $(VENV)/.installed
	$(BIN)/python scripts/bench_detect.py --out out/bench_detect.json
	$(BIN)/python scripts/bench_audit.py --out out/bench_audit.json
	$(BIN)/python scripts/bench_proxy.py --out out/bench_proxy.json

$(LOCK_VENV)/.installed:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet '$(LOCK_TOOL)'
	touch $@

lock: $(LOCK_VENV)/.installed
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	sed -i '1i $(LOCK_HEADER)' requirements.lock
	$(PIP_COMPILE) --extra test --constraint requirements.lock --output-file requirements-test.lock pyproject.toml
	sed -i '1i $(LOCK_HEADER)' requirements-test.lock

clean:
	rm -rf $(VENV) $(LOCK_VENV) .data out
