# ringcache: build, run and test. `make` alone lists the targets.

CARGO ?= cargo
# Extra arguments for `make run`, e.g. make run ARGS="--port 7000".
ARGS ?=
# Extra arguments for benches/run.sh, e.g. make bench BENCH_ARGS=--quick.
BENCH_ARGS ?=
# Extra arguments for benches/cluster.sh, e.g. make bench-cluster BENCH_CLUSTER_ARGS="--repeats 5".
BENCH_CLUSTER_ARGS ?=

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

# Where `make cluster` keeps its nodes' logs and pid files.
CLUSTER_DIR ?= target/cluster

.PHONY: help deps bench-deps build run cluster cluster-add-remove cluster-stop test test-redis lint bench bench-micro bench-keyspace bench-catchup bench-membership bench-membership-figures bench-deltas bench-pubsub

help: ## List the targets.
	@echo "ringcache make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install what the tests need (redis-cli, tclsh) if it is missing.
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo not found: install Rust from https://rustup.rs, then run make again" >&2; exit 1; }
	@command -v redis-cli >/dev/null 2>&1 || { $(call apt_install,redis-tools); }
	@command -v tclsh >/dev/null 2>&1 || { $(call apt_install,tcl); }

# Note: on a machine with an init system, Debian's redis-server package also
# starts a redis service on port 6379, the port `make run` uses by default.
bench-deps: ## Install what `make bench` needs (redis-server, redis-tools) if missing.
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo not found: install Rust from https://rustup.rs, then run make again" >&2; exit 1; }
	@{ command -v redis-server && command -v redis-cli && command -v redis-benchmark; } >/dev/null 2>&1 || { $(call apt_install,redis-server redis-tools); }

build: ## Build everything in release mode.
	$(CARGO) build --release

run: build ## Run one node on 127.0.0.1:6379 (pass options with ARGS="...").
	$(CARGO) run --release -p ringcache -- $(ARGS)

cluster: build ## Start a local three-node cluster (ports 7001-7003) from config/cluster/: nodes 2 and 3 join node 1 by seeds.
	@mkdir -p $(CLUSTER_DIR)
	@for i in 1 2 3; do \
		if [ -f $(CLUSTER_DIR)/node$$i.pid ] && kill -0 "$$(cat $(CLUSTER_DIR)/node$$i.pid)" 2>/dev/null; then \
			echo "node $$i is already running (pid $$(cat $(CLUSTER_DIR)/node$$i.pid))"; continue; \
		fi; \
		target/release/ringcache --config config/cluster/node$$i.toml >$(CLUSTER_DIR)/node$$i.log 2>&1 & \
		echo $$! >$(CLUSTER_DIR)/node$$i.pid; \
		echo "node $$i: 127.0.0.1:700$$i (pid $$!, log $(CLUSTER_DIR)/node$$i.log)"; \
	done
	@sleep 1
	@for i in 1 2 3; do kill -0 "$$(cat $(CLUSTER_DIR)/node$$i.pid)" 2>/dev/null || { echo "node $$i did not start:"; cat $(CLUSTER_DIR)/node$$i.log; exit 1; }; done
	@echo "cluster up: try redis-cli -p 7001 set hello world; redis-cli -p 7003 get hello; make cluster-stop stops it"

cluster-add-remove: build ## Add node 4 to the running `make cluster` (CLUSTER MEET), then make it leave (CLUSTER LEAVE), printing where the slots went.
	@command -v bc >/dev/null || apt-get install -y bc >/dev/null
	@sh config/cluster/add-remove.sh

cluster-stop: ## Stop the nodes `make cluster` started.
	@for i in 1 2 3 4; do \
		f=$(CLUSTER_DIR)/node$$i.pid; \
		[ -f $$f ] || continue; \
		pid=$$(cat $$f); \
		if kill "$$pid" 2>/dev/null; then \
			for _ in $$(seq 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
			kill -9 "$$pid" 2>/dev/null || true; \
			echo "node $$i stopped"; \
		fi; \
		rm -f $$f; \
	done

test: deps ## Run every test: unit, integration, doc tests, then Redis's TCL units.
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	$(MAKE) --no-print-directory test-redis

# Redis 7.2.6's TCL suite, vendored in tests/redis-tests (BSD, see its
# COPYING). UNITS="unit/sort unit/dump" runs only those; the baseline is
# per unit, so a subset is compared unit by unit.
UNITS ?=
# The node is built with the `fast-release` profile: optimized like a
# release build, but without its LTO and single codegen unit, so that CI
# does not spend minutes on a build only the TCL units use.
test-redis: deps ## Redis's TCL units against one node; fails if a unit passes fewer than tests/redis-tests/baseline.txt.
	$(CARGO) build --profile fast-release -p ringcache
	RINGCACHE_BIN=target/fast-release/ringcache bash tests/redis-tests/check.sh $(UNITS)

lint: ## Check formatting and run clippy with warnings as errors.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: bench-cluster

bench: bench-deps ## Benchmark against redis-server, then the cluster benchmark.
	bash benches/run.sh $(BENCH_ARGS)
	bash benches/cluster.sh $(BENCH_CLUSTER_ARGS)

bench-cluster: bench-deps ## Three-node ringcache vs Redis Cluster (benches/cluster.sh).
	bash benches/cluster.sh $(BENCH_CLUSTER_ARGS)

bench-keyspace: bench-deps ## SCAN, DBSIZE, INFO, RANDOMKEY, KEYS beside redis-server, and GETs beside them (benches/keyspace.sh).
	bash benches/keyspace.sh

bench-catchup: bench-deps ## Time a node restarted empty takes to catch up 1,000,000 keys (benches/catchup.sh).
	bash benches/catchup.sh

bench-membership: bench-deps ## A node joins a cluster holding 1,000,000 keys, then leaves it (benches/membership.sh).
	benches/membership.sh

bench-membership-figures: ## Detection, join convergence and gossip bytes against cluster size, 3 to 64 simulated nodes (benches/membership_figures.sh).
	bash benches/membership_figures.sh

bench-deltas: bench-deps ## 2,000 one-element LPUSHes on a 100,000-element list through three replicated nodes (benches/deltas.sh).
	cargo build --release -p ringcache
	bash benches/deltas.sh

bench-pubsub: bench-deps ## PUBLISH fan-out to 1,000 subscribers beside redis-server (benches/pubsub.sh).
	bash benches/pubsub.sh

bench-micro: ## Run the criterion micro-benchmarks.
	$(CARGO) bench --workspace
