# The README's entry points. Everything else is CMake/Ninja under build/.
BUILD ?= build
DATA_DIR ?= $(CURDIR)/.data
LISTEN ?= 127.0.0.1:6443

.PHONY: deps build up test unit e2e fuzz lint bench clean

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

up: build
	@echo "skiff: starting the control plane and this machine as a node on $(LISTEN), data in $(DATA_DIR)"
	@echo "skiff: once it is up, try:  kubectl --kubeconfig $(DATA_DIR)/kubeconfig get namespaces"
	$(BUILD)/skiff up --data-dir $(DATA_DIR) --listen $(LISTEN)

# The benchmarks are not part of `build`, but they must keep compiling.
test: build lint fuzz
	@ninja -C $(BUILD) benches
	cd $(BUILD) && ctest --output-on-failure -j2

unit: build
	cd $(BUILD) && ctest --output-on-failure -R '^unit_'

e2e: build
	cd $(BUILD) && ctest --output-on-failure -j2 -R '^e2e_'

bench: build
	scripts/bench-apiserver $(BUILD)

# Formatting (.clang-format, clang-format 14): `scripts/check-format --fix` rewrites.
lint: deps
	@scripts/check-format

# Short libFuzzer runs over the parsers (clang, separate tree).
fuzz: deps
	@scripts/run-fuzzers $(BUILD)/fuzz

clean:
	rm -rf $(BUILD)
