# txv: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PY := /usr/bin/python3
export CTEST_OUTPUT_ON_FAILURE := 1

.PHONY: run run-cluster bench-replica test deps console build build-asan test-unit test-e2e test-sanitize test-fuzz test-deploy bench bench-soak format format-check clean

deps:
	@bash scripts/install-deps.sh

# The analyst console (console/, npm): built first, embedded in the binary.
console: deps
	@bash scripts/build-console.sh

build: deps console
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)

build-asan: deps console
	cmake --preset asan-ubsan >/dev/null
	cmake --build --preset asan-ubsan -j $(JOBS)

run: build
	@bash scripts/run-embedded.sh

# txv in replica mode on loopback: throw-away PostgreSQL and Redis, 3 replicas of txv serve,
# nginx in front on 127.0.0.1:8080 (TXV_CLUSTER_PORT, TXV_BIN); Ctrl-C stops all of it.
run-cluster: build
	@bash scripts/run-cluster.sh

# Every suite: unit, end-to-end (the real binary over HTTP), the same under
# ASan+UBSan, the rules fuzzer, and the offline deployment checks.
test: build
	@bash scripts/test-all.sh

test-unit: build
	ctest --preset dev -L unit -j $(JOBS)

test-e2e: build
	TXV_BIN=$(CURDIR)/build/txv $(PY) -m pytest -q tests/e2e tests/faults

test-sanitize: build-asan
	ctest --preset asan-ubsan -L unit -j $(JOBS)
	TXV_BIN=$(CURDIR)/build-asan/txv TXV_SANITIZED=1 $(PY) -m pytest -q tests/e2e

test-fuzz: deps
	bash scripts/fuzz-rules.sh

test-deploy: build
	bash scripts/test-deploy.sh

# Figures for BENCHMARKS.md (~5 minutes); TXV_BIN=... bash bench/run.sh measures another binary.
bench: build
	cmake --build --preset dev -j $(JOBS) --target benches
	bash bench/run.sh

# Replica mode alone (PostgreSQL + Redis from scripts/test-servers.sh): about 2 minutes.
bench-replica: build
	cmake --build --preset dev -j $(JOBS) --target benches
	BENCH_PARTS=replica bash bench/run.sh

# The RSS stability part alone, with the issue's 10-minute validate run.
bench-soak: build
	cmake --build --preset dev -j $(JOBS) --target benches
	BENCH_SOAK_SECONDS=600 BENCH_PARTS=stability bash bench/run.sh

format:
	find src bench fuzz -name '*.h' -o -name '*.cc' | xargs clang-format -i

format-check:
	find src bench fuzz -name '*.h' -o -name '*.cc' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build build-asan build-release build-fuzz
