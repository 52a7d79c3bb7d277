# ringcache: build, run and test. `make` alone lists the targets.

CARGO ?= cargo
# Extra arguments for `make run`, e.g. make run ARGS="--port 7000".
ARGS ?=
# Extra arguments for benches/run.sh, e.g. make bench BENCH_ARGS=--quick.
BENCH_ARGS ?=

# apt-get needs root: use sudo only when we are not root already.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

# $(call apt_install,packages): install Debian packages quietly.
define apt_install
command -v apt-get >/dev/null 2>&1 || { echo "apt-get not found: install $(1) with your package manager" >&2; exit 1; }; \
echo "installing $(1)"; \
$(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $(1) >/dev/null
endef

.DEFAULT_GOAL := help

.PHONY: help deps bench-deps build run test lint bench bench-micro

help: ## List the targets.
	@echo "ringcache make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install what the tests need (redis-cli) if it is missing.
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo not found: install Rust from https://rustup.rs, then run make again" >&2; exit 1; }
	@command -v redis-cli >/dev/null 2>&1 || { $(call apt_install,redis-tools); }

# Note: on a machine with an init system, Debian's redis-server package also
# starts a redis service on port 6379, the port `make run` uses by default.
bench-deps: ## Install what `make bench` needs (redis-server, redis-tools) if missing.
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo not found: install Rust from https://rustup.rs, then run make again" >&2; exit 1; }
	@{ command -v redis-server && command -v redis-cli && command -v redis-benchmark; } >/dev/null 2>&1 || { $(call apt_install,redis-server redis-tools); }

build: ## Build everything in release mode.
	$(CARGO) build --release

run: build ## Run one node on 127.0.0.1:6379 (pass options with ARGS="...").
	$(CARGO) run --release -p ringcache -- $(ARGS)

test: deps ## Run every test: unit, integration, then doc tests.
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

lint: ## Check formatting and run clippy with warnings as errors.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: bench-deps ## Benchmark against redis-server (benches/run.sh).
	bash benches/run.sh $(BENCH_ARGS)

bench-micro: ## Run the criterion micro-benchmarks.
	$(CARGO) bench --workspace
