# Two commands on a fresh machine:
#   make run    installs Tidings into .venv and serves it embedded on http://127.0.0.1:8000
#   make test   installs everything the tests need, starts Kafka and Cassandra on 127.0.0.1
#               (jars from Maven Central, cached in ~/.cache/tidings), builds Prometheus
#               (go install, cached there too; for the dashboard check), installs Chromium
#               and mosquitto-clients (apt) and the JS test dependencies (npm), and runs
#               lint, types, the Python suite in both modes, the JS client tests and the
#               browser tests
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install run test lint infra infra-stop browser mqtt-clients js-test bench mutation proto clean

# `make run` installs what the embedded default needs; the tests also the distributed-mode
# libraries, tracing and the dev tools (`.[dev]` includes `.[distributed,tracing]`).
$(BIN)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(BIN)/.installed-run

install: $(BIN)/.installed

run: $(BIN)/.installed-run
	$(BIN)/tidings serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

infra: install
	infra/kafka.sh start
	infra/cassandra.sh start
	infra/prometheus.sh build

infra-stop:
	-infra/kafka.sh stop
	-infra/cassandra.sh stop

browser:
	infra/browser.sh

mqtt-clients:
	infra/mqtt-clients.sh

js-test: install browser
	cd clients/js && TIDINGS_PYTHON=$(CURDIR)/$(BIN)/python npm test

test: lint infra browser mqtt-clients
	$(BIN)/pytest
	cd clients/js && TIDINGS_PYTHON=$(CURDIR)/$(BIN)/python npm test

# Tidings (both modes) beside Centrifugo v6.9.1 (go install) and Node socket.io 4.8 (npm),
# one run, one table; peers are installed under ~/.cache/tidings/peers on first use.
bench: infra
	$(BIN)/python bench/run.py

# Mutation testing of the pure core (cosmic-ray), in a copy of the tree; about half an hour.
# Prints each area's score; survivors are listed in test-artifacts/mutation/.
mutation: install
	$(BIN)/pip install -q -e '.[dev,mutation]'
	scripts/mutation.sh

proto: install
	PATH=$(BIN):$$PATH scripts/gen_proto.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
