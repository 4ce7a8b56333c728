# Thin wrapper over CMake. The two commands a new user needs: `make run` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test test-asan test-tsan bench fuzz clean

all: build

deps:
	@scripts/deps

build:
	@scripts/deps --build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p var
	./$(BUILD)/keyward serve --data-dir ./var

test: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@scripts/test $(BUILD)

# ASan + UBSan over the whole suite (LeakSanitizer suppressions for libh2o: tests/sanitizers/lsan.supp).
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKW_SANITIZE=ON -DKW_TSAN=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@scripts/test $(ASAN_BUILD)

# ThreadSanitizer (-O1 -g) over the unit tests and an e2e concurrency smoke; never in one build with ASan.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKW_TSAN=ON -DKW_SANITIZE=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	@scripts/test-tsan $(TSAN_BUILD)

bench: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bench/run $(BUILD)

fuzz: build
	@fuzz/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
