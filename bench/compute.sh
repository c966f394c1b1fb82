#!/usr/bin/env bash
# shellcheck disable=SC2317  # the *_one functions are called as "${part}_one"
# Compute offload benchmark (issue 4): for --compute=inline, threads and
# processes, one clusterd at a time on loopback, with the same parallelism:
#
#  1. health probe under CPU saturation: LOAD_CONNECTIONS wrk connections keep
#     the executors busy with /compute/fib?n=LOAD_FIB_N while a paced wrk probe
#     (PROBE_CONNECTIONS connections, one request per PROBE_INTERVAL_MS each)
#     times /healthz for the same DURATION: probe p50/p99/max, jobs/s, non-2xx;
#  2. CPU throughput: K /compute/fib?n=FIB_N requests released at once
#     (bench/fib_burst.py), wall time until the last answer, speedup vs inline.
#
# Usage: bench/compute.sh [--quick]     (see bench/README.md for the knobs)
#   MODES="inline threads processes" WORKERS=1 EXECUTORS=2 DURATION=10s
#   LOAD_FIB_N=32 LOAD_CONNECTIONS=8 PROBE_CONNECTIONS=1 PROBE_INTERVAL_MS=10
#   K=8 FIB_N=44 BURST_TIMEOUT=120 PARTS="probe burst" CLUSTERD=build/clusterd
#   RESULTS_DIR=
# --quick: DURATION=2s K=4 FIB_N=40 unless set, a smoke run of ~20 s.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

if [[ ${1:-} == --quick ]]; then
    DURATION=${DURATION:-2s} K=${K:-4} FIB_N=${FIB_N:-40}
elif [[ -n ${1:-} ]]; then
    echo "usage: $0 [--quick]  (knobs are environment variables, see bench/README.md)" >&2; exit 2
fi
MODES=${MODES:-"inline threads processes"}
PARTS=${PARTS:-"probe burst"}
WORKERS=${WORKERS:-1}
EXECUTORS=${EXECUTORS:-$(nproc)}       # --compute-threads / --compute-processes
DURATION=${DURATION:-10s}              # wrk -d of the saturation part, per mode
LOAD_FIB_N=${LOAD_FIB_N:-32}           # the saturating job: fib(32), ~3 ms of one core here
LOAD_CONNECTIONS=${LOAD_CONNECTIONS:-8}
PROBE_CONNECTIONS=${PROBE_CONNECTIONS:-1}
export PROBE_INTERVAL_MS=${PROBE_INTERVAL_MS:-10}   # read by wrk_probe.lua; 0: back to back
K=${K:-8}
FIB_N=${FIB_N:-44}                     # fib(44): ~0.9 s of one core here
BURST_TIMEOUT=${BURST_TIMEOUT:-120}    # seconds: --compute-timeout and the client's limit
COMPUTE_QUEUE=${COMPUTE_QUEUE:-64}
CLUSTERD=${CLUSTERD:-$ROOT/build/clusterd}
RESULTS_DIR=${RESULTS_DIR:-}
START_TIMEOUT=${START_TIMEOUT:-15}
QUIET_WAIT=${QUIET_WAIT:-0}            # seconds to wait for a quiet machine (< 0.2 cores busy) first
(( COMPUTE_QUEUE >= K )) || COMPUTE_QUEUE=$K

unset JOURNAL_STREAM || true   # keep clusterd's log timestamps

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

SERVER_PID=
PORT=
SERVERS_RUN=()   # every supervisor pid started, for the leftover check at the end

# MODE_ARGS for MODE: the executor options; COMPUTES: compute processes to wait for.
mode_args() {
    case $1 in
        inline)    MODE_ARGS=(--compute inline); COMPUTES=0 ;;
        threads)   MODE_ARGS=(--compute threads --compute-threads "$EXECUTORS"); COMPUTES=0 ;;
        processes) MODE_ARGS=(--compute processes --compute-processes "$EXECUTORS"); COMPUTES=$EXECUTORS ;;
        *) die "unknown mode '$1' in MODES (expected inline, threads, processes)" ;;
    esac
}

executors_of() {   # what runs the jobs, in words, for the tables
    case $1 in
        inline) echo "the worker's event loop" ;;
        threads) echo "$EXECUTORS threads (SCHED_BATCH)" ;;
        processes) echo "$EXECUTORS compute processes" ;;
    esac
}

start_mode() {   # start_mode MODE TAG [EXTRA ARGS...]
    local mode=$1 tag=$2
    shift 2
    mode_args "$mode"
    start_clusterd_with "$TMP/$tag.log" "$WORKERS" "$COMPUTES" "${MODE_ARGS[@]}" --compute-queue "$COMPUTE_QUEUE" "$@"
    SERVERS_RUN+=("$SERVER_PID")
    log "$tag: clusterd pid $SERVER_PID on port $PORT: --workers $WORKERS ${MODE_ARGS[*]} --compute-queue $COMPUTE_QUEUE $*"
}

# stop_mode TAG: stop the server, keep its /metrics (taken just before) and
# log, and summarise what it logged at warn level or worse.
stop_mode() {
    local tag=$1
    curl -s -m 5 -o "$TMP/$tag.metrics" "http://127.0.0.1:$PORT/metrics" || log "$tag: warning: /metrics did not answer"
    stop_tree "$SERVER_PID"
    forget "$SERVER_PID"
    [[ -e /dev/shm/clusterd.$SERVER_PID ]] && log "$tag: warning: /dev/shm/clusterd.$SERVER_PID left behind after the stop"
    grep -E '\[(warn|warning|error|critical)\]' "$TMP/$tag.log" > "$TMP/$tag.warnings" || true
    if [[ -s $TMP/$tag.warnings ]]; then
        log "$tag: clusterd logged $(wc -l < "$TMP/$tag.warnings") lines at warn or worse, e.g.: $(head -n1 "$TMP/$tag.warnings")"
    fi
    if [[ -n $RESULTS_DIR ]]; then cp "$TMP/$tag.log" "$TMP/$tag.metrics" "$RESULTS_DIR/" 2>/dev/null || true; fi
    SERVER_PID=
}

warnings_of() {   # warnings_of TAG -> number of warn-or-worse log lines
    if [[ -f $TMP/$1.warnings ]]; then wc -l < "$TMP/$1.warnings"; else echo 0; fi
}

# outcomes_of TAG -> "completed 1234, rejected 5" from clusterd_compute_jobs_total
outcomes_of() {
    awk '/^clusterd_compute_jobs_total\{/ {
            match($0, /outcome="[a-z_]+"/); o = substr($0, RSTART + 9, RLENGTH - 10); n[o] += $NF
            if (!(o in seen)) { seen[o] = 1; order[++k] = o } }
         END { s = ""; for (i = 1; i <= k; i++) if (n[order[i]] > 0) s = s (s == "" ? "" : ", ") order[i] " " n[order[i]]
               print (s == "" ? "none" : s) }' "$TMP/$1.metrics" 2>/dev/null || echo "n/a"
}

tree_ticks() {   # tree_ticks ROOT -> utime+stime(+children) of ROOT's tree, in ticks
    scan_proc
    local p t=0
    for p in $(tree_pids "$1"); do t=$(( t + ${TICKS_OF[$p]:-0} )); done
    echo "$t"
}

children_cpu() {   # children's user+sys seconds from `times` (second line)
    times | awk 'function s(x) { split(x, a, /[ms]/); return a[1] * 60 + a[2] } NR == 2 { printf "%.2f\n", s($1) + s($2) }'
}

ticks_to_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }'; }
us_to_ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }

# bounded PID_VAR CMD...: run CMD in the background, recorded for cleanup.
bounded() {
    local -n pid_var=$1
    shift
    "$@" &
    pid_var=$!
    STARTED+=("$pid_var"); remember "$pid_var"
}

# ------------------------------------------------------ 1. probe under load

declare -A JOBS_S=() NON2XX=() P50=() P99=() PMAX=() PROBES=() PERR=() SCPU=() OCPU=() JP50=() OUTCOMES=()

probe_one() {
    local mode=$1 tag=probe-$1 secs load_pid probe_pid rc_load=0 rc_probe=0
    secs=$(to_seconds "$DURATION")
    start_mode "$mode" "$tag"
    local url="http://127.0.0.1:$PORT"
    log "$tag: $DURATION of fib($LOAD_FIB_N) on $LOAD_CONNECTIONS connections, /healthz probed every ${PROBE_INTERVAL_MS} ms on $PROBE_CONNECTIONS"
    local t0 t1 m0 m1 w0 w1
    t0=$(tree_ticks "$SERVER_PID"); m0=$(machine_busy); w0=$(children_cpu)
    bounded load_pid timeout -k 5 $((secs + 30)) wrk -t1 -c"$LOAD_CONNECTIONS" -d"$DURATION" --timeout 10s --latency \
        -s "$HERE/wrk_report.lua" "$url/compute/fib?n=$LOAD_FIB_N" > "$TMP/$tag.load.txt" 2>&1
    bounded probe_pid timeout -k 5 $((secs + 30)) wrk -t1 -c"$PROBE_CONNECTIONS" -d"$DURATION" --timeout 10s --latency \
        -s "$HERE/wrk_probe.lua" "$url/healthz" > "$TMP/$tag.probe.txt" 2>&1
    wait "$load_pid" || rc_load=$?
    wait "$probe_pid" || rc_probe=$?
    forget "$load_pid"; forget "$probe_pid"
    m1=$(machine_busy); w1=$(children_cpu); t1=$(tree_ticks "$SERVER_PID")
    stop_mode "$tag"
    [[ -n $RESULTS_DIR ]] && cp "$TMP/$tag.load.txt" "$TMP/$tag.probe.txt" "$RESULTS_DIR/"
    (( rc_load == 0 )) || { cat "$TMP/$tag.load.txt" >&2; die "$tag: load wrk failed (exit $rc_load)"; }
    (( rc_probe == 0 )) || { cat "$TMP/$tag.probe.txt" >&2; die "$tag: probe wrk failed (exit $rc_probe)"; }

    local lf=$TMP/$tag.load.txt pf=$TMP/$tag.probe.txt
    { grep -q '^BENCH ' "$lf" && grep -q '^BENCH ' "$pf"; } || die "$tag: no BENCH line in wrk output"
    local req bad dur
    req=$(bench_field "$lf" requests); bad=$(bench_field "$lf" errors_status); dur=$(bench_field "$lf" duration_us)
    JOBS_S[$mode]=$(awk -v r="$req" -v b="$bad" -v d="$dur" 'BEGIN { printf "%.0f", (r - b) / (d / 1e6) }')
    NON2XX[$mode]=$bad
    JP50[$mode]=$(us_to_ms "$(bench_field "$lf" p50_us)")
    P50[$mode]=$(us_to_ms "$(bench_field "$pf" p50_us)")
    P99[$mode]=$(us_to_ms "$(bench_field "$pf" p99_us)")
    PMAX[$mode]=$(us_to_ms "$(bench_field "$pf" max_us)")
    PROBES[$mode]=$(bench_field "$pf" requests)
    PERR[$mode]=$(( $(bench_field "$pf" errors_connect) + $(bench_field "$pf" errors_read) + $(bench_field "$pf" errors_write) \
                   + $(bench_field "$pf" errors_status) + $(bench_field "$pf" errors_timeout) ))
    local lerr
    lerr=$(( $(bench_field "$lf" errors_connect) + $(bench_field "$lf" errors_read) + $(bench_field "$lf" errors_write) \
             + $(bench_field "$lf" errors_timeout) ))
    (( lerr == 0 )) || log "$tag: warning: the load wrk saw $lerr socket errors or timeouts (see $tag.load.txt)"
    SCPU[$mode]=$(ticks_to_s $((t1 - t0)))
    OCPU[$mode]=$(awk -v m=$((m1 - m0)) -v hz="$CLK_TCK" -v s="${SCPU[$mode]}" -v w0="$w0" -v w1="$w1" \
        'BEGIN { o = m / hz - s - (w1 - w0); printf "%.2f", (o < 0 ? 0 : o) }')
    OUTCOMES[$mode]=$(outcomes_of "$tag")
    log "$tag: ${JOBS_S[$mode]} jobs/s, non-2xx $bad; probe p50 ${P50[$mode]} ms, p99 ${P99[$mode]} ms, max ${PMAX[$mode]} ms"
}

# --------------------------------------------------- 2. K jobs released at once

declare -A WALL=() FIRST=() JOBMS=() BCPU=() BSTAT=() BOCPU=()

burst_one() {
    local mode=$1 tag=burst-$1 pid rc=0
    start_mode "$mode" "$tag" --compute-timeout "${BURST_TIMEOUT}s"
    log "$tag: $K x fib($FIB_N) at once"
    local t0 t1 m0 m1
    t0=$(tree_ticks "$SERVER_PID"); m0=$(machine_busy)
    bounded pid timeout -k 5 $((BURST_TIMEOUT + 30)) python3 "$HERE/fib_burst.py" \
        --url "http://127.0.0.1:$PORT/compute/fib?n=$FIB_N" --k "$K" --timeout "$((BURST_TIMEOUT + 10))" > "$TMP/$tag.txt" 2>&1
    wait "$pid" || rc=$?
    forget "$pid"
    m1=$(machine_busy); t1=$(tree_ticks "$SERVER_PID")
    stop_mode "$tag"
    [[ -n $RESULTS_DIR ]] && cp "$TMP/$tag.txt" "$RESULTS_DIR/"
    grep -q '^BURST ' "$TMP/$tag.txt" || { cat "$TMP/$tag.txt" >&2; die "$tag: fib_burst.py failed (exit $rc)"; }
    (( rc == 0 )) || log "$tag: warning: not every request answered 200: $(grep '^BURST ' "$TMP/$tag.txt")"
    local line
    line=$(grep '^BURST ' "$TMP/$tag.txt")
    WALL[$mode]=$(sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p' <<< "$line")
    FIRST[$mode]=$(sed -n 's/.* first_s=\([0-9.]*\).*/\1/p' <<< "$line")
    BSTAT[$mode]=$(sed -n 's/.* statuses=\([^ ]*\).*/\1/p' <<< "$line")
    JOBMS[$mode]=$(awk -F'compute_ms=' '/^REQ / && $2 != "None" { s += $2; n++ } END { if (n) printf "%.0f", s / n; else print "n/a" }' "$TMP/$tag.txt")
    BCPU[$mode]=$(ticks_to_s $((t1 - t0)))
    # the client sleeps while it waits: everything but the server is "other"
    BOCPU[$mode]=$(awk -v m=$((m1 - m0)) -v hz="$CLK_TCK" -v s="${BCPU[$mode]}" 'BEGIN { o = m / hz - s; printf "%.2f", (o < 0 ? 0 : o) }')
    log "$tag: wall ${WALL[$mode]} s, statuses ${BSTAT[$mode]}"
}

# ----------------------------------------------------------------------- run

[[ -n $RESULTS_DIR ]] && mkdir -p "$RESULTS_DIR"
for tool in wrk curl python3 timeout; do command -v "$tool" >/dev/null || die "$tool not found"; done
read -r -a MODE_LIST <<< "$MODES"
read -r -a PART_LIST <<< "$PARTS"
for m in "${MODE_LIST[@]}"; do mode_args "$m"; done
for p in "${PART_LIST[@]}"; do [[ $p == probe || $p == burst ]] || die "unknown part '$p' in PARTS (expected probe, burst)"; done

quiet_deadline=$((SECONDS + QUIET_WAIT))
while :; do
    b0=$(machine_busy); sleep 1; b1=$(machine_busy)
    BUSY_BEFORE=$(ticks_to_s $((b1 - b0)))
    if ! awk -v b="$BUSY_BEFORE" 'BEGIN { exit !(b > 0.2) }' || ((SECONDS >= quiet_deadline)); then break; fi
    log "waiting for a quiet machine: $BUSY_BEFORE cores busy (QUIET_WAIT=${QUIET_WAIT}s)"
    sleep 4
done
STARTED_AT=$(date -u)
if awk -v b="$BUSY_BEFORE" 'BEGIN { exit !(b > 0.2) }'; then
    log "warning: the machine was $BUSY_BEFORE cores busy before the run; results will be disturbed"
fi

for p in "${PART_LIST[@]}"; do
    for m in "${MODE_LIST[@]}"; do "${p}_one" "$m"; done
done

# Nothing of ours may survive: no supervisor, no child naming it, no segment.
LEFTOVERS=()
for s in "${SERVERS_RUN[@]}"; do
    if same_process "$s"; then LEFTOVERS+=("supervisor $s"); fi
    for c in $(pgrep -f -- "--supervisor-pid $s( |\$)" || true); do LEFTOVERS+=("pid $c (child of $s)"); done
    if [[ -e /dev/shm/clusterd.$s ]]; then LEFTOVERS+=("/dev/shm/clusterd.$s"); fi
done

# --------------------------------------------------------------------- report

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }

{
    echo "Started $STARTED_AT; $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), Linux $(uname -r);" \
         "machine $BUSY_BEFORE cores busy in the second before the run."
    echo "Every mode: \`clusterd --workers $WORKERS --compute-queue $COMPUTE_QUEUE\`; inline runs its jobs on that one worker's" \
         "event loop (1 core), threads and processes on $EXECUTORS executors."
    if [[ " $PARTS " == *" probe "* ]]; then
        echo
        echo "Health probe under CPU saturation: \`wrk -t1 -c$LOAD_CONNECTIONS -d$DURATION\` on /compute/fib?n=$LOAD_FIB_N," \
             "and at the same time \`wrk -t1 -c$PROBE_CONNECTIONS -d$DURATION\` on /healthz, one probe every $PROBE_INTERVAL_MS ms" \
             "per connection (bench/wrk_probe.lua). Reference from issue 4: Node.js worker_threads, worst probe 6.5 ms."
        echo
        echo "| mode | executors | jobs/s (2xx) | non-2xx | job p50 ms | probe p50 ms | probe p99 ms | probe max ms | probes | probe errors | server CPU-s | other CPU-s | clusterd warnings | job outcomes (/metrics) |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for m in "${MODE_LIST[@]}"; do
            echo "| $m | $(executors_of "$m") | ${JOBS_S[$m]} | ${NON2XX[$m]} | ${JP50[$m]} | ${P50[$m]} | ${P99[$m]} | ${PMAX[$m]} | ${PROBES[$m]} | ${PERR[$m]} | ${SCPU[$m]} | ${OCPU[$m]} | $(warnings_of "probe-$m") | ${OUTCOMES[$m]} |"
        done
    fi
    if [[ " $PARTS " == *" burst "* ]]; then
        echo
        echo "CPU throughput: $K x /compute/fib?n=$FIB_N released at once (bench/fib_burst.py), wall time to the last answer;" \
             "--compute-timeout ${BURST_TIMEOUT}s."
        echo
        echo "| mode | executors | wall s | speedup vs inline | first answer s | mean compute_ms per job | server CPU-s | cores used | other CPU-s | statuses | clusterd warnings |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
        for m in "${MODE_LIST[@]}"; do
            echo "| $m | $(executors_of "$m") | ${WALL[$m]} | $(ratio "${WALL[inline]:-}" "${WALL[$m]}") | ${FIRST[$m]} | ${JOBMS[$m]} | ${BCPU[$m]} | $(ratio "${BCPU[$m]}" "${WALL[$m]}") | ${BOCPU[$m]} | ${BSTAT[$m]} | $(warnings_of "burst-$m") |"
        done
    fi
    echo
    if ((${#LEFTOVERS[@]})); then
        echo "LEFTOVERS after the run: ${LEFTOVERS[*]}"
    else
        echo "After the run: no clusterd process of this run left (checked by pid and with pgrep), no /dev/shm/clusterd.<pid> left."
    fi
    for f in "$TMP"/*.warnings; do
        [[ -s $f ]] || continue
        echo
        echo "clusterd's warnings in $(basename "$f" .warnings) (distinct messages, timestamps and pids stripped):"
        echo
        sed -E 's/^[0-9-]+ [0-9:.]+ //; s/[0-9]+/N/g' "$f" | sort | uniq -c | sort -rn | head -n 10 | sed 's/^ */    /'
    done
} | tee "$TMP/report.md"
[[ -n $RESULTS_DIR ]] && cp "$TMP/report.md" "$RESULTS_DIR/report.md"
((${#LEFTOVERS[@]} == 0)) || die "processes or segments left behind: ${LEFTOVERS[*]}"
exit 0
