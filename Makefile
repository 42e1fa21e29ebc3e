# The two commands a new user runs: `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit integration demo down bench bench-quick bench-micro format lint \
        clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 1

unit: build
	$(BUILD_DIR)/tests/unit_tests

integration: build
	SLUICE_BIN=$(BUILD_DIR)/sluice /usr/bin/python3 -m pytest -q tests/integration

demo: build
	$(BUILD_DIR)/sluice up

down:
	$(BUILD_DIR)/sluice down

# The benchmark suite (bench/README.md): `make bench` (full, ~20 min), `make bench-quick`
# (under 3 min); more options with ARGS="...", e.g. make bench ARGS="--rounds 5 --readme".
bench: build
	bash bench/run.sh $(ARGS)

bench-quick: build
	bash bench/run.sh --quick $(ARGS)

# Google Benchmark micro-benchmarks (bench/micro), in their own build directory so the
# default build never compiles them. ARGS go to the binary, e.g. ARGS=--benchmark_filter=Scan.
BENCH_BUILD_DIR ?= build-bench
bench-micro: deps
	cmake -S . -B $(BENCH_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=ON
	cmake --build $(BENCH_BUILD_DIR) -j $(JOBS) --target sluice_micro_bench
	$(BENCH_BUILD_DIR)/bench/sluice_micro_bench $(ARGS)

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc')

lint: build
	bash scripts/lint.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
