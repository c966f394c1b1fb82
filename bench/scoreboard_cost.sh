#!/usr/bin/env bash
# What the scoreboard costs a request: hello-world throughput of clusterd with
# its per-request scoreboard stores and without them (--no-scoreboard-counters),
# alternated in one run so both see the same machine. Bounded: ROUNDS x 2 x
# DURATION of wrk. Knobs: WORKERS (2), DURATION (5s), CONNECTIONS (64), ROUNDS (3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLUSTERD=${CLUSTERD:-$ROOT/build/clusterd}
WORKERS=${WORKERS:-2} DURATION=${DURATION:-5s} CONNECTIONS=${CONNECTIONS:-64} ROUNDS=${ROUNDS:-3}
TMP=$(mktemp -d); PID=
# As root, clusterd wants to be told that its workers may be root too.
if [[ $(id -u) -eq 0 ]]; then export CLUSTERD_ALLOW_ROOT=true; fi
cleanup() { [[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

measure() {  # $@: extra clusterd args → prints requests/s
    "$CLUSTERD" --listen 127.0.0.1:0 --workers "$WORKERS" --log-level warn "$@" 2> "$TMP/log" &
    PID=$!
    local port="" deadline=$((SECONDS + 10))
    while [[ -z $port ]] && ((SECONDS < deadline)); do
        sleep 0.1
        port=$(ss -ltnpH 2>/dev/null | grep "pid=$PID," | sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -n1)
    done
    [[ -n $port ]] || { cat "$TMP/log" >&2; echo "clusterd did not start" >&2; exit 1; }
    wrk -t1 -c"$CONNECTIONS" -d1s "http://127.0.0.1:$port/" > /dev/null  # warm-up
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}'
    kill -TERM "$PID"; wait "$PID" || true; PID=
}

echo "| round | with scoreboard (req/s) | without (req/s) | ratio with/without |"
echo "|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
    with=$(measure)
    without=$(measure --no-scoreboard-counters)
    echo "| $round | $with | $without | $(awk -v a="$with" -v b="$without" 'BEGIN {printf "%.3f", a / b}') |"
done
