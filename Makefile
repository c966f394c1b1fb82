# The two commands (see README.md):
#   make run    install what is missing, build, run the daemon on 127.0.0.1:8080
#   make test   install what is missing, build, run every test
# Thin on purpose: CMake presets hold the build configurations.

ARGS ?=
JOBS ?= 2

.PHONY: all deps build run test test-asan test-tsan test-sanitize fuzz chaos bench lab deb image clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	cmake --preset release -DCLUSTERD_TESTS=OFF
	cmake --build --preset release -j $(JOBS)

# As root, clusterd refuses to run its workers as root unless told: `make run`
# says so (--allow-root); production runs use --user (see docs/OPERATING.md).
RUN_AS := $(if $(filter 0,$(shell id -u)),--allow-root,)

run: build
	exec build/clusterd $(RUN_AS) $(ARGS)

# The release suite, then the same suite under ASan+UBSan: CI runs this, and
# sanitizers only help if they run where every change lands.
test:
	@scripts/install-deps.sh build test
	cmake --preset release -DCLUSTERD_TESTS=ON
	cmake --build --preset release -j $(JOBS)
	ctest --preset release
	$(MAKE) --no-print-directory test-asan

test-asan:
	@scripts/install-deps.sh build test
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan

test-tsan:
	@scripts/install-deps.sh build test
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan

test-sanitize: test-asan test-tsan

# libFuzzer targets (clang, ASan+UBSan) for FUZZ_SECONDS each; what they find
# accumulates in build-fuzz/fuzz-corpus, crashes in build-fuzz/fuzz-artifacts.
FUZZ_SECONDS ?= 300
fuzz:
	@scripts/install-deps.sh build test
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# The chaos test for CHAOS_SECONDS instead of the suite's ~30 s.
CHAOS_SECONDS ?= 300
chaos:
	@scripts/install-deps.sh build test
	cmake --preset release -DCLUSTERD_TESTS=ON
	cmake --build --preset release -j $(JOBS)
	CLUSTERD_CHAOS_SECONDS=$(CHAOS_SECONDS) build/tests/crash_tests "[chaos]" --durations yes

# The benchmarks, then the parallelism lab (bench/lab, ~5 min); the whole
# run stays under 15 min on 2 cores. LAB_FAST=1: the lab with 1 s loads.
LAB_OUT ?= build/lab
LAB_ARGS = $(if $(LAB_FAST),--fast) --out $(LAB_OUT)
bench:
	@scripts/install-deps.sh build bench
	cmake --preset release -DCLUSTERD_TESTS=OFF
	cmake --build --preset release -j $(JOBS)
	bench/hello.sh
	bench/compute.sh
	bench/probe_saturated.py
	bench/cold_start.py
	bench/scoreboard_cost.sh
	bench/ring/run.sh
	build-ring-bench/wakeup_bench
	bench/task_dispatch.sh
	bench/similarity.sh
	bench/exec_peers.py
	bench/failover.py
	bench/lab/lab.py $(LAB_ARGS)

# The parallelism lab alone: table on stdout, lab.json, lab.md, lab.svg in LAB_OUT.
lab:
	@scripts/install-deps.sh build bench
	cmake --preset release -DCLUSTERD_TESTS=OFF
	cmake --build --preset release -j $(JOBS)
	bench/lab/lab.py $(LAB_ARGS)

# The Debian package(s) from the install rules (cmake/packaging.cmake):
# build/deb/clusterd_<version>_amd64.deb, and clusterd-dev_... when there are
# development files. lintian checks it; docs/DEPLOYING.md.
deb:
	@scripts/install-deps.sh build deploy
	cmake --preset release -DCLUSTERD_TESTS=OFF
	cmake --build --preset release -j $(JOBS)
	rm -f build/deb/*.deb
	cd build && cpack --config CPackConfig.cmake
	lintian --fail-on error build/deb/clusterd_*.deb

# The container image localhost/clusterd:<version>: a minimal Debian 12 root
# from the archive with the package installed (mmdebstrap), `podman import`ed.
IMAGE ?= localhost/clusterd:0.1.0
image: deb
	deploy/image/build-root.sh $(wildcard build/deb/clusterd_*.deb) build/deploy/root.tar
	deploy/image/build-image.sh build/deploy/root.tar $(IMAGE)

clean:
	rm -rf build build-debug build-asan build-tsan build-fuzz
