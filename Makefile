# Scoreboard: set-up, build and test entry points. `make help` lists them.
# Everything a target needs is installed by scripts/setup.sh (`make setup`).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:
.DELETE_ON_ERROR:

# The pinned wasm-opt (npm binaryen 132) must win over any other wasm-opt on PATH;
# cargo-installed trunk and wasm-bindgen live in ~/.cargo/bin.
# scripts/bin comes first: its `wasm-bindgen` (scripts/wasm-split.sh) splits the page's
# lazily loaded views off before calling the real one.
export PATH := $(CURDIR)/scripts/bin:$(CURDIR)/.tools/npm/node_modules/.bin:$(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(PATH)
# Trunk's self-update check needs crates.io's web API, which is unreachable here.
export TRUNK_SKIP_VERSION_CHECK := true

DIST := $(CURDIR)/dist
# Cargo's output directory: target/, unless CARGO_TARGET_DIR moves it.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
BIN  := $(TARGET_DIR)/release/scoreboard

.PHONY: help setup build run test dist bench fmt lint clean _setup-if-missing _tools-present _app _server _bench-web

help:
	@echo "make setup   install the toolchain, browser and dependencies (scripts/setup.sh; idempotent)"
	@echo "make build   build the site into dist/ (trunk build --release) and the server (target/release/scoreboard)"
	@echo "make run     set up if needed, build, then serve the demo on http://127.0.0.1:8080"
	@echo "make test    set up if needed, build, then run every test (unit, integration, the page's in Chromium, end-to-end)"
	@echo "make dist    static build of the site into dist/ with relative URLs, for any static web server"
	@echo "make bench   run every benchmark (bench/, issue 7); writes BENCHMARKS.md and bench/results.json"
	@echo "make fmt     format all code (cargo fmt)"
	@echo "make lint    check formatting and run clippy on the native crates and the wasm app"
	@echo "make clean   remove build output (target/, dist/, tests/artifacts/); keeps data/ and .tools/"

setup:
	scripts/setup.sh

# `run` and `test` install only when something is missing, so they work on a fresh machine.
_setup-if-missing:
	@scripts/setup.sh --check >/dev/null || scripts/setup.sh

# `build` and `dist` do not install anything; they say what to run instead.
_tools-present:
	@scripts/setup.sh --check >/dev/null || { scripts/setup.sh --check; exit 1; }

# Trunk runs cargo with --offline (Trunk.toml), so fetch any crate added since the last set-up.
# Two Trunk builds at once in one tree wreck each other's dist/.stage: make's take turns.
TRUNK := mkdir -p .tools && flock .tools/trunk.lock trunk

_app: _tools-present
	cargo fetch
	$(TRUNK) build --release

_server:
	cargo build --release -p scoreboard-server

build: _app _server

run: _setup-if-missing build
	mkdir -p data
	$(BIN) serve --listen 127.0.0.1:8080 --dist dist --data-dir ./data --demo

# Every test, in two runs that both happen even when the first fails (either failing fails `make test`):
# 1. natively: core, otlp, server, the polars oracle, the page's unit tests that need no browser,
#    and the browser end-to-end tests (tests/e2e), which drive the built site through the release
#    server binary; both paths are passed to them, so they never skip here;
# 2. the page's browser tests (`#[wasm_bindgen_test]`: IndexedDB, localStorage, the DOM) compiled
#    to wasm and run in headless Chromium by scripts/wasm-test-runner.sh (.cargo/config.toml).
test: _setup-if-missing build
	status=0; \
	SCOREBOARD_DIST=$(DIST) SCOREBOARD_BIN=$(BIN) cargo test --workspace --exclude scoreboard-bench --no-fail-fast || status=1; \
	cargo test -p scoreboard-app --target wasm32-unknown-unknown --no-fail-fast || status=1; \
	exit $$status

# Relative asset URLs: the same dist/ works at a domain root or under any sub-path.
dist: _tools-present
	cargo fetch
	$(TRUNK) build --release --public-url ./

# Benchmarks (issue 7): the release site and server as `make build` makes them, DuckDB-WASM
# from bench/package-lock.json (npm ci: the pinned version, nothing resolved at run time),
# criterion for the engine, then scoreboard-bench drives the rest and writes the report.
# BENCH_ARGS=--quick: fewer runs; BENCH_ARGS="--only ingest,backfill": some parts only.
BENCH_ARGS ?=
_bench-web:
	cd bench && { [ -d node_modules/@duckdb/duckdb-wasm ] && [ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --loglevel=error; }
	cd bench && npm run --silent build

bench: _setup-if-missing build _bench-web
	cargo build --release -p scoreboard-bench
	cargo bench -p scoreboard-bench --bench engine
	target/release/scoreboard-bench --bin $(BIN) --dist $(DIST) $(BENCH_ARGS)

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --exclude scoreboard-app --all-targets -- -D warnings
	# With `split`, as the page ships (its lazily loaded views: components/mod.rs).
	cargo clippy -p scoreboard-app --target wasm32-unknown-unknown --all-targets --features split -- -D warnings

clean:
	cargo clean
	rm -rf dist tests/artifacts
