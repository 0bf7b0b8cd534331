# ach-risk developer commands. Every target creates what it needs (venv, generated code, node tools).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps on one venv: the runtime (`make run`, `make emulator`: the service and its
# dependencies only) and dev (lint, tests, bench: `.[dev]`, which implies the runtime).
RUNTIME_STAMP := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: setup run emulator protos protos-check buf-lint buf-release lint fmt test check clean

setup: $(STAMP)

## setup-runtime: .venv with the service and its runtime dependencies only (what `make run` needs)
.PHONY: setup-runtime
setup-runtime: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(RUNTIME_STAMP) $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

## run: start the service on its embedded defaults (in-process Plaid emulator, 127.0.0.1:50051)
run: $(RUNTIME_STAMP)
	$(BIN)/ach-risk serve

## emulator: start the Plaid emulator alone on 127.0.0.1:8089
emulator: $(RUNTIME_STAMP)
	$(BIN)/plaid-emulator

## protos: regenerate service/_proto from protos/
protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

## plaid-examples: regenerate tests/fixtures/plaid (Plaid's documented bodies) from the vendored spec
.PHONY: plaid-examples plaid-examples-check
plaid-examples: $(STAMP)
	$(BIN)/python scripts/plaid_examples.py

plaid-examples-check: $(STAMP)
	$(BIN)/python scripts/plaid_examples.py --check

buf-lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/gen_protos.py --check
	node_modules/.bin/buf lint
	mkdir -p build
	node_modules/.bin/buf build -o build/achrisk-v1.binpb
	node_modules/.bin/buf breaking build/achrisk-v1.binpb --against protos/released/achrisk-v1.binpb

## buf-release: record the current contract as the one `buf breaking` guards (after a release)
buf-release: $(STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/gen_protos.py --check
	node_modules/.bin/buf build -o protos/released/achrisk-v1.binpb

lint: $(STAMP) buf-lint
	$(BIN)/ruff format --check service plaid_emulator tests scripts bench
	$(BIN)/ruff check service plaid_emulator tests scripts bench
	$(BIN)/mypy service plaid_emulator tests bench
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format service plaid_emulator tests scripts bench
	$(BIN)/ruff check --fix service plaid_emulator tests scripts bench

## test: the whole suite (fails if generated code drifted from protos/)
test: $(STAMP) protos-check plaid-examples-check
	$(BIN)/python -m pytest

## fuzz: the fuzz tests with many more examples (about 20,000 requests, ~3 min)
.PHONY: fuzz
fuzz: $(STAMP)
	ACH_RISK_FUZZ_EXAMPLES=3000 $(BIN)/python -m pytest -q -s tests/e2e/test_fuzz.py

check: lint test

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .mypy_cache .ruff_cache

## protoset: the descriptor set, for ghz or grpcurl without reflection (offline; `ach-risk protoset` writes the same)
.PHONY: protoset bench bench-quick
protoset: protos
	mkdir -p build
	cp service/_proto/achrisk.protoset build/achrisk.protoset

## bench: ghz runs of the service against the floor (bench/forwarder.py) and a bare echo server, py-spy profiles, the waiting run and --workers N scaling (~9 min; installs ghz)
bench: $(STAMP) protoset
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: $(STAMP) protoset
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

## bench-rate-budget: what one rate-budget check costs, on SQLite and on PostgreSQL (~1 min)
.PHONY: bench-rate-budget
bench-rate-budget: $(STAMP)
	$(BIN)/python bench/rate_budget.py

## bench-tracing: the CPU tracing adds to one evaluation, off, on and on unsampled (~2 min)
.PHONY: bench-tracing
bench-tracing: $(STAMP)
	$(BIN)/python bench/tracing_cost.py
