# shellcheck shell=bash
# Shared by task_dispatch.sh and similarity.sh: start a server by pid, wait
# until it answers, run wrk with --latency and print one table row; every
# server is stopped by its pid at exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
NODE_DIR=${NODE_DIR:-$BUILD/bench-node}   # npm install piscina goes here, never into the tree
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
WORK=$(mktemp -d /tmp/clusterd-dispatch.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
AS_ROOT=()
[ "$(id -u)" = 0 ] && AS_ROOT=(--allow-root)

ensure_piscina() {
    if [ ! -d "$NODE_DIR/node_modules/piscina" ]; then
        mkdir -p "$NODE_DIR"
        npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" piscina@4 >/dev/null
    fi
    export NODE_PATH="$NODE_DIR/node_modules"
}

# start NAME PORT COMMAND...: runs COMMAND, waits up to 15 s for /healthz on PORT.
start() {
    local name=$1 port=$2
    shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 150); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && return 0
        sleep 0.1
    done
    cat "$WORK/$name.log" >&2
    echo "$name did not answer on port $port" >&2
    exit 1
}

stop_last() {
    local pid=${PIDS[-1]}
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'PIDS[-1]'
}

# Converts wrk's "1.23ms" / "456.00us" / "1.02s" to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

# measure LABEL URL [PROBE_URL]: wrk -s post_body.lua on URL; with PROBE_URL, a
# one-connection wrk on it at the same time (its p99 is the loop's responsiveness).
measure() {
    local label=$1 url=$2 probe=${3:-}
    if [ -n "$probe" ]; then
        wrk -t 1 -c 1 -d "${DURATION}s" --latency "$probe" >"$WORK/probe.txt" 2>&1 &
        local probe_pid=$!
    fi
    wrk -t 2 -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$ROOT/bench/post_body.lua" "$url" >"$WORK/wrk.txt" 2>&1
    [ -n "$probe" ] && wait "$probe_pid"
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.txt")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")")
    errors=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")
    local row="| $label | $rps | $p50 | $p99 | ${errors:-0}"
    if [ -n "$probe" ]; then
        row="$row | $(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/probe.txt")")"
    fi
    echo "$row |"
}
