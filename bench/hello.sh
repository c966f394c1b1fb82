#!/usr/bin/env bash
# shellcheck disable=SC2317  # start_$name and cleanup are called indirectly
# Hello-world benchmark: clusterd against nginx, same worker count, same wrk
# settings, one server at a time on loopback. Prints a Markdown table with
# requests/s, latency p50/p99 and requests served per server CPU-second, plus
# the clusterd/nginx ratio of each figure; then (when clusterd is among
# SERVERS) the worker restart latency from bench/restart_latency.py.
# ROUNDS runs of each server, alternating (clusterd, nginx, clusterd, ...):
# the table is the median of each figure, the ratios are of the medians, and
# every round's req/s and req per CPU-s are listed under it. BASELINE=PATH
# adds a third server, another clusterd binary (main's, say), in the same
# alternation: before/after on the same machine in the same minutes.
#
# Usage: bench/hello.sh            (see bench/README.md for the knobs)
#   WORKERS=2 THREADS=1 CONNECTIONS=64 DURATION=10s WARMUP=2s
#   SERVERS="clusterd nginx" CLUSTERD=build/clusterd NGINX=nginx
#   RESTART_REPS=20 RESULTS_DIR= WRK_CPUS= ROUNDS=5 BASELINE=
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

WORKERS=${WORKERS:-2}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
SERVERS=${SERVERS:-"clusterd nginx"}
ROUNDS=${ROUNDS:-5}
BASELINE=${BASELINE:-}   # another clusterd binary, run as server "baseline"
[[ -n $BASELINE ]] && SERVERS="$SERVERS baseline"
CLUSTERD=${CLUSTERD:-$ROOT/build/clusterd}
NGINX=${NGINX:-nginx}
RESTART_REPS=${RESTART_REPS:-20}
RESULTS_DIR=${RESULTS_DIR:-}   # when set, raw wrk output and server logs are copied here
WRK_CPUS=${WRK_CPUS:-}         # when set, wrk runs under `taskset -c $WRK_CPUS`
START_TIMEOUT=${START_TIMEOUT:-15}   # seconds to wait for a server to become ready

# clusterd drops its timestamps when it believes it runs under journald; the
# restart-latency measurement needs them.
unset JOURNAL_STREAM || true

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

WRK_PREFIX=()
[[ -n $WRK_CPUS ]] && WRK_PREFIX=(taskset -c "$WRK_CPUS")

# run_wrk DURATION URL OUTFILE. wrk runs in the background and the shell
# waits for it, so a signal to this script is handled at once. wrk's own CPU
# time (user+sys, from the shell's `times` for reaped children) -> OUTFILE.cpu
run_wrk() {
    local dur=$1 url=$2 out=$3 secs rc=0 pid
    secs=$(to_seconds "$dur")
    times > "$out.times0"
    timeout -k 5 $((secs + 30)) "${WRK_PREFIX[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$dur" \
        --latency -s "$HERE/wrk_report.lua" "$url" > "$out" 2>&1 &
    pid=$!
    STARTED+=("$pid"); remember "$pid"
    wait "$pid" || rc=$?
    times > "$out.times1"
    forget "$pid"
    if (( rc != 0 )); then cat "$out" >&2; die "wrk failed against $url (exit $rc)"; fi
    # second line of `times`: children's user and system time, e.g. "0m1.234s 0m0.567s"
    awk 'function s(x) { split(x, a, /[ms]/); return a[1] * 60 + a[2] }
         FNR == 2 { v = s($1) + s($2); if (NR == FNR) t0 = v; else t1 = v }
         END { printf "%.2f\n", t1 - t0 }' "$out.times0" "$out.times1" > "$out.cpu"
}

# -------------------------------------------------------------------- servers

SERVER_PID=
PORT=

start_nginx() {
    command -v "$NGINX" >/dev/null || die "nginx not found ($NGINX)"
    local dir=$TMP/nginx
    mkdir -p "$dir/logs"
    PORT=$(free_port)
    cat > "$dir/nginx.conf" <<EOF
worker_processes $WORKERS;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$PORT;
        location / { return 200 "hello\n"; }
    }
}
EOF
    "$NGINX" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/logs/error.log" > "$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    STARTED+=("$SERVER_PID"); remember "$SERVER_PID"
    wait_http_200 "http://127.0.0.1:$PORT/" "$SERVER_PID" || {
        cat "$dir/stdout.log" "$dir/logs/error.log" >&2 2>/dev/null || true
        die "nginx did not come up on port $PORT"; }
}

start_clusterd() {
    start_clusterd_with "$TMP/clusterd.log" "$WORKERS" 0
}

start_baseline() {
    CLUSTERD=$BASELINE start_clusterd_with "$TMP/baseline.log" "$WORKERS" 0
}

stop_server() {
    local name=$1
    stop_tree "$SERVER_PID"
    forget "$SERVER_PID"
    if [[ -n $RESULTS_DIR ]]; then
        case $name in
            clusterd) cp "$TMP/clusterd.log" "$RESULTS_DIR/clusterd.log" ;;
            nginx) cp "$TMP/nginx/logs/error.log" "$RESULTS_DIR/nginx-error.log" 2>/dev/null || true ;;
        esac
    fi
    SERVER_PID=
}

# ------------------------------------------------------------------ the runs

declare -A REQ=() RPS=() P50=() P99=() CPU=() RPC=() ERR=() NPROC=() PERPROC=() WRKCPU=() OTHER=() AVAIL=()

bench_one() {
    local name=$1
    log "$name: starting with $WORKERS workers"
    "start_$name"
    local url="http://127.0.0.1:$PORT/" comm
    comm=$(cat "/proc/$SERVER_PID/comm" 2>/dev/null || true)
    [[ $comm == "$name" || $comm == "$(basename "${NGINX}")" && $name == nginx || $name == baseline ]] ||
        log "$name: warning: pid $SERVER_PID is '$comm', not $name; CPU figures may be wrong"
    log "$name: listening on port $PORT (pid $SERVER_PID); warm-up $WARMUP"
    run_wrk "$WARMUP" "$url" "$TMP/$name.warmup.txt"
    local m0 m1
    snapshot "$SERVER_PID" "$TMP/$name.cpu0"
    m0=$(machine_busy)
    log "$name: measuring $DURATION (wrk -t$THREADS -c$CONNECTIONS)"
    run_wrk "$DURATION" "$url" "$TMP/$name.wrk.txt"
    m1=$(machine_busy)
    snapshot "$SERVER_PID" "$TMP/$name.cpu1"
    stop_server "$name"
    [[ -n $RESULTS_DIR ]] && cp "$TMP/$name.wrk.txt" "$TMP/$name.warmup.txt" "$RESULTS_DIR/"

    local f=$TMP/$name.wrk.txt
    grep -q '^BENCH ' "$f" || { cat "$f" >&2; die "$name: no BENCH line in wrk output"; }
    local req dur p50 p99 errs ticks
    req=$(bench_field "$f" requests); dur=$(bench_field "$f" duration_us)
    p50=$(bench_field "$f" p50_us);   p99=$(bench_field "$f" p99_us)
    errs=$(( $(bench_field "$f" errors_connect) + $(bench_field "$f" errors_read) + $(bench_field "$f" errors_write) \
             + $(bench_field "$f" errors_status) + $(bench_field "$f" errors_timeout) ))
    # Per-process deltas; a process absent from the first snapshot started in
    # the window and counts from 0.
    ticks=$(awk 'NR == FNR { b[$1] = $2; next } { t += $2 - ($1 in b ? b[$1] : 0) } END { print t + 0 }' \
        "$TMP/$name.cpu0" "$TMP/$name.cpu1")
    PERPROC[$name]=$(awk -v hz="$CLK_TCK" 'NR == FNR { b[$1] = $2; next }
        { printf "%s%s%s %.2f", (FNR > 1 ? ", " : ""), $1, (FNR == 1 ? " (master)" : ""), ($2 - ($1 in b ? b[$1] : 0)) / hz }' \
        "$TMP/$name.cpu0" "$TMP/$name.cpu1")
    REQ[$name]=$req; ERR[$name]=$errs
    NPROC[$name]="$(wc -l < "$TMP/$name.cpu0")/$(wc -l < "$TMP/$name.cpu1")"
    RPS[$name]=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
    P50[$name]=$(awk -v v="$p50" 'BEGIN { printf "%.3f", v / 1000 }')
    P99[$name]=$(awk -v v="$p99" 'BEGIN { printf "%.3f", v / 1000 }')
    CPU[$name]=$(awk -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
    RPC[$name]=$(awk -v r="$req" -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN { if (t > 0) printf "%.0f", r / (t / hz); else print "n/a" }')
    WRKCPU[$name]=$(cat "$TMP/$name.wrk.txt.cpu")
    OTHER[$name]=$(awk -v m=$((m1 - m0)) -v hz="$CLK_TCK" -v s="${CPU[$name]}" -v w="${WRKCPU[$name]}" \
        'BEGIN { o = m / hz - s - w; printf "%.2f", (o < 0 ? 0 : o) }')
    AVAIL[$name]=$(awk -v d="$dur" -v n="$(nproc)" 'BEGIN { printf "%.1f", d / 1e6 * n }')
    if awk -v o="${OTHER[$name]}" -v a="${AVAIL[$name]}" 'BEGIN { exit !(o > 0.05 * a) }'; then
        log "$name: warning: ${OTHER[$name]} CPU-s used by other processes during the run; figures are disturbed"
    fi
    (( errs == 0 )) || log "$name: warning: wrk reported $errs errors (see raw output)"
    log "$name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms, ${CPU[$name]} CPU-s, ${RPC[$name]} req/CPU-s"
}

ratio() {   # ratio A B -> A/B with 2 decimals, or n/a
    awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}

[[ -n $RESULTS_DIR ]] && mkdir -p "$RESULTS_DIR"
command -v wrk >/dev/null || die "wrk not found"
command -v curl >/dev/null || die "curl not found"

# Both servers get the same descriptor limit: the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

read -r -a SERVER_LIST <<< "$SERVERS"
for s in "${SERVER_LIST[@]}"; do
    case $s in clusterd|nginx|baseline) ;; *) die "unknown server '$s' in SERVERS (expected clusterd and/or nginx)" ;; esac
done

# Is the machine quiet? Other CPU load skews every figure here.
b0=$(machine_busy); sleep 1; b1=$(machine_busy)
if (( (b1 - b0) * 100 > 20 * CLK_TCK )); then
    log "warning: the machine was $(awk -v b=$((b1 - b0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", b / hz }') cores busy before the run; results will be disturbed"
fi

# Every figure of every round, per server: "v1 v2 ..." for the medians.
declare -A ALL_REQ=() ALL_RPS=() ALL_P50=() ALL_P99=() ALL_CPU=() ALL_RPC=() ALL_ERR=()
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for (( round = 1; round <= ROUNDS; round++ )); do
    for s in "${SERVER_LIST[@]}"; do
        log "round $round of $ROUNDS"
        bench_one "$s"
        ALL_REQ[$s]+=" ${REQ[$s]}"; ALL_RPS[$s]+=" ${RPS[$s]}"; ALL_P50[$s]+=" ${P50[$s]}"
        ALL_P99[$s]+=" ${P99[$s]}"; ALL_CPU[$s]+=" ${CPU[$s]}"; ALL_RPC[$s]+=" ${RPC[$s]}"; ALL_ERR[$s]+=" ${ERR[$s]}"
    done
done
if (( ROUNDS > 1 )); then
    for s in "${SERVER_LIST[@]}"; do
        REQ[$s]=$(median <<< "${ALL_REQ[$s]}"); RPS[$s]=$(median <<< "${ALL_RPS[$s]}")
        P50[$s]=$(median <<< "${ALL_P50[$s]}"); P99[$s]=$(median <<< "${ALL_P99[$s]}")
        CPU[$s]=$(median <<< "${ALL_CPU[$s]}"); RPC[$s]=$(median <<< "${ALL_RPC[$s]}")
        ERR[$s]=$(tr ' ' '\n' <<< "${ALL_ERR[$s]}" | awk '{ t += $1 } END { print t + 0 }')
    done
fi

RESTART_MD=
if [[ " $SERVERS " == *" clusterd "* ]] && (( RESTART_REPS > 0 )); then
    log "clusterd: worker restart latency, $RESTART_REPS repetitions"
    python3 "$HERE/restart_latency.py" --binary "$CLUSTERD" --workers "$WORKERS" --reps "$RESTART_REPS" \
        --log "$TMP/restart.log" > "$TMP/restart.md" &
    rl_pid=$!
    STARTED+=("$rl_pid"); remember "$rl_pid"
    rl_rc=0; wait "$rl_pid" || rl_rc=$?
    forget "$rl_pid"
    if [[ -n $RESULTS_DIR ]]; then cp "$TMP/restart.log" "$RESULTS_DIR/restart-clusterd.log" 2>/dev/null || true; fi
    (( rl_rc == 0 )) || { cat "$TMP/restart.md" >&2; die "restart_latency.py failed (exit $rl_rc)"; }
    RESTART_MD=$(grep -v '^RESTART ' "$TMP/restart.md")
fi

# -------------------------------------------------------------------- report

{
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP), $WORKERS workers per server, loopback" \
         "$( (( ROUNDS > 1 )) && echo "; median of $ROUNDS alternating rounds (errors: the sum)")"
    echo
    echo "| server | requests | req/s | p50 ms | p99 ms | server CPU-s | req per CPU-s | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for s in "${SERVER_LIST[@]}"; do
        echo "| $s | ${REQ[$s]} | ${RPS[$s]} | ${P50[$s]} | ${P99[$s]} | ${CPU[$s]} | ${RPC[$s]} | ${ERR[$s]} |"
    done
    if [[ -n ${REQ[clusterd]:-} && -n ${REQ[nginx]:-} ]]; then
        echo "| clusterd/nginx | $(ratio "${REQ[clusterd]}" "${REQ[nginx]}") | $(ratio "${RPS[clusterd]}" "${RPS[nginx]}") |" \
             "$(ratio "${P50[clusterd]}" "${P50[nginx]}") | $(ratio "${P99[clusterd]}" "${P99[nginx]}") |" \
             "$(ratio "${CPU[clusterd]}" "${CPU[nginx]}") | $(ratio "${RPC[clusterd]}" "${RPC[nginx]}") | |"
    fi
    if [[ -n ${REQ[clusterd]:-} && -n ${REQ[baseline]:-} ]]; then
        echo "| clusterd/baseline | $(ratio "${REQ[clusterd]}" "${REQ[baseline]}") | $(ratio "${RPS[clusterd]}" "${RPS[baseline]}") |" \
             "$(ratio "${P50[clusterd]}" "${P50[baseline]}") | $(ratio "${P99[clusterd]}" "${P99[baseline]}") |" \
             "$(ratio "${CPU[clusterd]}" "${CPU[baseline]}") | $(ratio "${RPC[clusterd]}" "${RPC[baseline]}") | |"
    fi
    if (( ROUNDS > 1 )); then
        echo
        echo "Each round (req/s; req per CPU-s):"
        echo
        for s in "${SERVER_LIST[@]}"; do echo "- $s:${ALL_RPS[$s]};${ALL_RPC[$s]}"; done
    fi
    echo
    echo "CPU-s used during the last measured run of each (machine capacity: ${AVAIL[${SERVER_LIST[0]}]} CPU-s):"
    echo
    for s in "${SERVER_LIST[@]}"; do
        echo "- $s: server ${CPU[$s]} (processes ${NPROC[$s]}, per process: ${PERPROC[$s]}); wrk ${WRKCPU[$s]}; everything else ${OTHER[$s]}"
    done
    if [[ -n $RESTART_MD ]]; then
        echo
        echo "$RESTART_MD"
    fi
} | tee "$TMP/report.md"
[[ -n $RESULTS_DIR ]] && cp "$TMP/report.md" "$RESULTS_DIR/report.md"
exit 0
