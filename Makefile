# Two commands on a fresh machine:
#   make run    installs Tidings into .venv and serves it embedded on http://127.0.0.1:8000
#   make test   installs everything the tests need, starts Kafka and Cassandra on 127.0.0.1
#               (jars from Maven Central, cached in ~/.cache/tidings), and runs lint, types
#               and the whole suite in both modes
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install run test lint infra infra-stop bench proto clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/tidings serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

infra: install
	infra/kafka.sh start
	infra/cassandra.sh start

infra-stop:
	-infra/kafka.sh stop
	-infra/cassandra.sh stop

test: lint infra
	$(BIN)/pytest

bench: infra
	$(BIN)/python bench/embedded.py
	$(BIN)/python bench/compare.py

proto: install
	PATH=$(BIN):$$PATH scripts/gen_proto.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
