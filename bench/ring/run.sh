#!/usr/bin/env bash
# Builds bench/ring (Release, its own build directory) and runs ring_bench:
# cross-process throughput and round-trip latency of common/spsc_ring.hpp
# against Boost.Interprocess message_queue, 64-byte messages. Prints the
# machine, then a Markdown table. Bounded: ~10-20 s on 2 cores.
#
# Usage: bench/ring/run.sh [ring_bench arguments]
#   e.g. bench/ring/run.sh --messages 20000000 --round-trips 100000 --repeats 3
#   BUILD_DIR=build-ring-bench (relative to the repository root)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-ring-bench}

cmake -S "$HERE" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j2 >/dev/null

echo "date:   $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:   $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -sr)"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the run"
echo "run:    $BUILD_DIR/ring_bench $*"
echo

BENCH_PID=
BENCH_RUNNING=0
cleanup() {
    # ring_bench removes its /dev/shm queues itself; this covers a kill or an alarm.
    if [[ -n $BENCH_PID ]]; then
        if ((BENCH_RUNNING)); then kill "$BENCH_PID" 2>/dev/null || true; fi
        rm -f /dev/shm/clusterd-ring-bench-"$BENCH_PID"-*
    fi
}
trap cleanup EXIT INT TERM

"$BUILD_DIR/ring_bench" "$@" &
BENCH_PID=$!
BENCH_RUNNING=1
status=0
wait "$BENCH_PID" || status=$?
BENCH_RUNNING=0
exit "$status"
