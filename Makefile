# The two commands a new user runs: `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit integration demo down bench format lint clean

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

bench: build
	bash bench/pgbench_compare.sh

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc')

lint: build
	bash scripts/lint.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
