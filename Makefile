# ach-risk developer commands. Every target creates what it needs (venv, generated code, node tools).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps on one venv: the runtime (`make run`, `make emulator`: the service and its
# dependencies only) and dev (lint, tests, bench: `.[dev]`, which implies the runtime).
RUNTIME_STAMP := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
# The runtime dependencies, pinned with hashes (`make lock`): the image installs exactly these,
# and every virtualenv here is constrained to the same versions, so what the tests ran is what
# ships. pip refuses a constraints file with hashes next to an editable install, so the venv
# reads a copy without them.
LOCK := requirements/runtime.lock
CONSTRAINTS := build/constraints.txt

.PHONY: setup run emulator protos protos-check buf-lint buf-release lint fmt test check clean

setup: $(STAMP)

## setup-runtime: .venv with the service and its runtime dependencies only (what `make run` needs)
.PHONY: setup-runtime
setup-runtime: $(RUNTIME_STAMP)

$(CONSTRAINTS): $(LOCK)
	mkdir -p build
	sed -e '/^ *--hash=/d' -e 's/ *\\$$//' $(LOCK) > $@

$(RUNTIME_STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $(RUNTIME_STAMP) $@

## lock: follow pyproject.toml in requirements/*.lock (pins with hashes), keeping every pin it still allows
.PHONY: lock lock-upgrade lock-check
lock: $(STAMP)
	$(BIN)/python scripts/lock.py

## lock-upgrade: re-resolve the locks to the newest versions pyproject.toml allows
lock-upgrade: $(STAMP)
	$(BIN)/python scripts/lock.py --upgrade

## image-check: the Dockerfile's install steps, without Docker: the image's virtualenv from the locks alone (~80 s)
.PHONY: image-check
image-check: $(STAMP)
	ACH_RISK_IMAGE_CHECK=1 $(BIN)/python -m pytest -q tests/deploy/test_lock.py

## lock-check: the lock still satisfies pyproject.toml (re-resolving within its pins changes nothing)
lock-check: $(STAMP)
	$(BIN)/python scripts/lock.py --check

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
	$(BIN)/ruff format --check service plaid_emulator tests scripts bench examples/python
	$(BIN)/ruff check service plaid_emulator tests scripts bench examples/python
	$(BIN)/mypy service plaid_emulator tests bench
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format service plaid_emulator tests scripts bench examples/python
	$(BIN)/ruff check --fix service plaid_emulator tests scripts bench examples/python

## promtool: Prometheus' rule checker, which tests/deploy/test_alerts.py runs (skipped without it,
## failed under CI): Debian's prometheus package as root (promtool 2.42), else built from the
## pinned Prometheus module into build/bin (slow: its dependencies are large). The module's
## replace directives make `go install ...@version` refuse it, so it is built in place.
PROMTOOL_MODULE := github.com/prometheus/prometheus@v0.305.0
.PHONY: promtool
promtool:
	@if command -v promtool >/dev/null || test -x build/bin/promtool; then \
		echo "promtool: $$(command -v promtool || echo build/bin/promtool)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	else \
		GOFLAGS=-mod=mod go mod download $(PROMTOOL_MODULE) && \
		cd "$$(go env GOMODCACHE)/$(PROMTOOL_MODULE)" && \
		go build -o "$(CURDIR)/build/bin/promtool" ./cmd/promtool; \
	fi

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
	rm -rf examples/go/gen/achrisk examples/go/achrisk-example examples/python/gen
	rm -rf examples/typescript/gen examples/typescript/dist examples/typescript/node_modules

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

## examples: generate code with buf.gen.yaml and build the Go, TypeScript and Python callers in examples/
# (docs/clients.md). The Go plugins are installed at these versions into build/bin; protoc-gen-es
# comes from examples/typescript/package-lock.json. Every step is a file target: a second run
# with nothing changed does nothing.
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GO_PLUGINS := build/bin/.protoc-gen-go-$(PROTOC_GEN_GO_VERSION) \
	build/bin/.protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION)
TS_STAMP := examples/typescript/node_modules/.installed-stamp
EXAMPLES_GEN := examples/go/gen/achrisk/v1/risk_service.pb.go \
	examples/typescript/gen/achrisk/v1/risk_service_pb.ts \
	examples/python/gen/achrisk/v1/risk_service_pb2.py
GO_EXAMPLE := examples/go/achrisk-example
TS_EXAMPLE := examples/typescript/dist/src/main.js
# Where `make examples-run` calls: `make run`'s address, or ACH_RISK_ADDR (and ACH_RISK_API_KEY).
ACH_RISK_ADDR ?= 127.0.0.1:50051

.PHONY: examples examples-gen examples-run
examples: $(GO_EXAMPLE) $(TS_EXAMPLE) $(EXAMPLES_GEN)

examples-gen: $(EXAMPLES_GEN)

build/bin/.protoc-gen-go-$(PROTOC_GEN_GO_VERSION):
	GOBIN=$(CURDIR)/build/bin go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	touch $@

build/bin/.protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION):
	GOBIN=$(CURDIR)/build/bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	touch $@

$(TS_STAMP): examples/typescript/package.json examples/typescript/package-lock.json
	cd examples/typescript && npm ci --no-audit --no-fund --silent
	touch $@

# buf needs the googleapis protos staged in build/buf-deps (gen_protos.py --check does it);
# Python's stubs come from grpcio-tools' protoc, which ships the well-known types.
$(EXAMPLES_GEN) &: protos/achrisk/v1/*.proto buf.gen.yaml $(GO_PLUGINS) $(TS_STAMP) $(STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/gen_protos.py --check
	rm -rf examples/go/gen/achrisk examples/typescript/gen examples/python/gen
	node_modules/.bin/buf generate
	mkdir -p examples/python/gen
	$(BIN)/python -m grpc_tools.protoc -Iprotos -Ibuild/buf-deps \
		--python_out=examples/python/gen --grpc_python_out=examples/python/gen \
		protos/achrisk/v1/*.proto
	touch $(EXAMPLES_GEN)

$(GO_EXAMPLE): $(EXAMPLES_GEN) examples/go/main.go examples/go/go.mod examples/go/go.sum examples/go/gen/go.mod
	cd examples/go && go build -o achrisk-example .

$(TS_EXAMPLE): $(EXAMPLES_GEN) $(TS_STAMP) examples/typescript/src/main.ts examples/typescript/tsconfig.json
	cd examples/typescript && node_modules/.bin/tsc -p tsconfig.json

## examples-run: run the three examples against a live service (`make run` in another terminal)
examples-run: examples
	$(GO_EXAMPLE) -addr $(ACH_RISK_ADDR)
	node $(TS_EXAMPLE) --addr $(ACH_RISK_ADDR)
	$(BIN)/python examples/python/achrisk_example.py --addr $(ACH_RISK_ADDR)

## bench-tracing: the CPU tracing adds to one evaluation, off, on and on unsampled (~2 min)
.PHONY: bench-tracing
bench-tracing: $(STAMP)
	$(BIN)/python bench/tracing_cost.py
