# The two commands of the README:
#   make demo   install dependencies, build, run the main job on the synthetic benchmark
#   make test   install dependencies, build, check that every package the build used is
#               installed by scripts/install_deps.sh, run the whole test suite (and `make sanitize`)
#   make sanitize  ASan + UBSan build of the torch-free unit tests and the safetensors,
#                  image and config tests (docs/reliability.md), in build-asan
BUILD ?= build
SAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: deps build demo test sanitize clean

deps:
	@bash scripts/install_deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@$(BUILD)/shiftad demo

test: build
	@bash scripts/check_deps.sh $(BUILD)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory sanitize

sanitize: deps
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHIFTAD_SANITIZE=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS) --target shiftad_tests
	@cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -L sanitize

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
