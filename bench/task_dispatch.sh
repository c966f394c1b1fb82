#!/usr/bin/env bash
# Task dispatch cost: an empty task (its input back) with 1 KiB in and out,
# behind POST /echo, through clusterd's threads and processes executors and
# through Node.js worker_threads driven by Piscina, in the same run: round
# trips per second and p50/p99 latency under wrk (-c CONNECTIONS, DURATION s).
# One HTTP worker or event loop and one compute thread/process each, so the
# hand-off is what differs. BODY_BYTES (1024) sets the payload.
#   bench/task_dispatch.sh         (after cmake --build --preset release)
source "$(dirname "$0")/dispatch_lib.sh"
ensure_piscina
APP=$BUILD/bench/dispatch/bench_echo_app
[ -x "$APP" ] || { echo "build first: $APP is missing" >&2; exit 1; }
export BODY_BYTES=${BODY_BYTES:-1024}

echo "task dispatch, ${BODY_BYTES} B in and out, wrk -c $CONNECTIONS -d ${DURATION}s, $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r)"
echo "| server | round trips/s | p50 ms | p99 ms | non-2xx |"
echo "| --- | --- | --- | --- | --- |"
for mode in threads processes; do
    start "clusterd-$mode" 18731 "$APP" "${AS_ROOT[@]}" --listen 127.0.0.1:18731 --workers 1 --compute "$mode" \
        --compute-threads 1 --compute-processes 1 --log-level warn
    measure "clusterd --compute $mode" "http://127.0.0.1:18731/echo"
    stop_last
done
start node-piscina 18732 node "$ROOT/bench/peers/piscina_echo.js" --port 18732 --threads 1
measure "Node.js $(node --version) + Piscina $(node -p "require('$NODE_PATH/piscina/package.json').version"), 1 thread" \
    "http://127.0.0.1:18732/echo"
stop_last
