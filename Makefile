# hlsd: `make run` and `make test` work on a fresh Debian 12 machine as root.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
LISTEN     ?= 127.0.0.1:8080
MESON_OPTS ?=

.PHONY: all deps build build-asan run test test-unit test-integration test-browser bench fuzz clean format

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

run: build
	./$(BUILD)/hlsd serve --listen $(LISTEN)

test: build build-asan
	tests/run-all.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# libFuzzer targets (clang build in $(FUZZ_BUILD)), each run for FUZZ_SECONDS.
fuzz: deps
	tests/fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	bench/run-all.sh $(BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
