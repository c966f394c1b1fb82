# shellcheck shell=bash
# shellcheck disable=SC2317,SC2034  # cleanup runs from a trap; CLK_TCK, TMP are for the sourcing script
# Bookkeeping shared by the bench scripts: every process a script starts is
# recorded with its start time and stopped by pid (never by name) in the
# cleanup trap, plus CPU accounting from /proc and the clusterd start-up
# handshake. Sourced after the script has set START_TIMEOUT; sets TMP (removed
# at exit) and CLK_TCK, and installs the EXIT/INT/TERM traps.

CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/clusterd-bench.XXXXXX")
BENCH_NAME=$(basename "$0")

# ---------------------------------------------------------------- bookkeeping

STARTED=()      # pids this script started (servers, helper processes)
declare -A START_TIME=()   # pid -> starttime (field 22), guards against pid reuse

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$BENCH_NAME" -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# stat_fields PID -> prints fields 3.. of /proc/PID/stat (after "pid (comm) ")
stat_fields() {
    local line
    { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
    printf '%s\n' "${line##*) }"
}

starttime_of() {
    local rest f
    rest=$(stat_fields "$1") || return 1
    read -r -a f <<< "$rest"
    printf '%s\n' "${f[19]}"
}

# Is PID still the very process we recorded (same start time)?
same_process() {
    local st
    st=$(starttime_of "$1") || return 1
    [[ -n ${START_TIME[$1]:-} && ${START_TIME[$1]} == "$st" ]]
}

remember() {   # remember PID: record its start time so we only ever kill it
    local st
    st=$(starttime_of "$1") || return 0
    START_TIME[$1]=$st
}

forget() {     # forget PID: drop it from STARTED once it has been stopped
    local -a keep=()
    local p
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    STARTED=("${keep[@]}")
}

# Scan /proc once. Fills PPID_OF and TICKS_OF (utime+stime+cutime+cstime).
declare -A PPID_OF=() TICKS_OF=()
scan_proc() {
    PPID_OF=(); TICKS_OF=()
    local f line rest pid
    local -a x
    for f in /proc/[0-9]*/stat; do
        { read -r line < "$f"; } 2>/dev/null || continue
        pid=${f#/proc/}; pid=${pid%/stat}
        rest=${line##*) }
        read -r -a x <<< "$rest"
        PPID_OF[$pid]=${x[1]}
        TICKS_OF[$pid]=$(( x[11] + x[12] + x[13] + x[14] ))
    done
}

# tree_pids ROOT -> ROOT and all its descendants (uses the last scan_proc)
tree_pids() {
    local -a queue=("$1") found=()
    local p c
    while ((${#queue[@]})); do
        p=${queue[0]}; queue=("${queue[@]:1}")
        [[ -n ${PPID_OF[$p]:-} ]] || continue
        found+=("$p")
        for c in "${!PPID_OF[@]}"; do
            [[ ${PPID_OF[$c]} == "$p" ]] && queue+=("$c")
        done
    done
    printf '%s\n' "${found[@]}"
}

# snapshot ROOT FILE: one "PID TICKS" line per process of the tree (ROOT
# first), TICKS = utime+stime+cutime+cstime in clock ticks. cutime/cstime
# make a process that exited and was reaped inside the window still count;
# in a steady run their delta is 0.
snapshot() {
    scan_proc
    local p
    for p in $(tree_pids "$1"); do printf '%s %s\n' "$p" "${TICKS_OF[$p]:-0}"; done > "$2"
}

# machine_busy -> busy jiffies of all CPUs (user nice system irq softirq steal)
machine_busy() {
    local u n s irq sirq st
    read -r _ u n s _ _ irq sirq st _ < /proc/stat
    echo $(( u + n + s + irq + sirq + st ))
}

# stop_tree PID: SIGTERM, wait up to 10 s, then SIGKILL; afterwards SIGKILL
# any descendant (recorded before the stop) still alive.
stop_tree() {
    local root=$1 p i
    same_process "$root" || return 0
    scan_proc
    local -a kids=()
    for p in $(tree_pids "$root"); do
        [[ $p == "$root" ]] && continue
        remember "$p"; kids+=("$p")
    done
    kill -TERM "$root" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        same_process "$root" || break
        # reap it if it is our child (turns the zombie into nothing)
        if ! kill -0 "$root" 2>/dev/null; then break; fi
        [[ $(stat_fields "$root" | cut -d' ' -f1) == Z ]] && break
        sleep 0.1
    done
    if same_process "$root" && [[ $(stat_fields "$root" | cut -d' ' -f1) != Z ]]; then
        log "pid $root did not stop within 10 s of SIGTERM; sending SIGKILL"
        kill -KILL "$root" 2>/dev/null || true
    fi
    wait "$root" 2>/dev/null || true
    for p in "${kids[@]}"; do
        if same_process "$p" && [[ $(stat_fields "$p" | cut -d' ' -f1) != Z ]]; then
            log "leftover child pid $p of $root; sending SIGKILL"
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local p
    for p in "${STARTED[@]}"; do stop_tree "$p"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------- helpers

to_seconds() {   # wrk duration (10, 10s, 2m, 1h) -> whole seconds
    local d=$1
    case $d in
        *s) echo "${d%s}" ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *h) echo $(( ${d%h} * 3600 )) ;;
        *)  echo "$d" ;;
    esac
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http_200() {   # wait_http_200 URL PID
    local url=$1 pid=$2 deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if [[ $(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" || true) == 200 ]]; then return 0; fi
        sleep 0.1
    done
    return 1
}

bench_field() {   # bench_field FILE KEY -> value from the BENCH line
    sed -n 's/^BENCH .*\b'"$2"'=\([0-9]*\).*/\1/p' "$1" | tail -n1
}


# start_clusterd_with LOG WORKERS [COMPUTE_PROCESSES [EXTRA ARGS...]]: starts
# Benchmarks run as whoever runs them; as root clusterd wants to be told
# that its workers may be root too.
if [[ $(id -u) -eq 0 ]]; then export CLUSTERD_ALLOW_ROOT=true; fi

# $CLUSTERD on 127.0.0.1:0 and waits until the supervisor has logged its port,
# COMPUTE_PROCESSES "compute process K (pid P) ready" lines, "all WORKERS
# workers ready", and / answers 200. Sets SERVER_PID (recorded in STARTED) and
# PORT. The binary is started as a simple command so that $! is its pid.
start_clusterd_with() {
    local log=$1 workers=$2 computes=${3:-0}
    shift 3 || shift $#
    [[ -x $CLUSTERD ]] || die "clusterd binary not found at $CLUSTERD (build it, or set CLUSTERD=)"
    local deadline=$((SECONDS + START_TIMEOUT)) ready=false
    : > "$log"   # exists before the first sed below, which may run before the child opens it
    "$CLUSTERD" --listen 127.0.0.1:0 --workers "$workers" --log-level info "$@" < /dev/null > "$log.stdout" 2> "$log" &
    SERVER_PID=$!
    STARTED+=("$SERVER_PID"); remember "$SERVER_PID"
    PORT=
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        [[ -z $PORT ]] && PORT=$(sed -n 's/.*\[supervisor [0-9]*\] listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -n1)
        if [[ -n $PORT ]] && grep -q "all $workers workers ready" "$log" &&
           (( $(grep -c '\] compute process [0-9]* (pid [0-9]*) ready' "$log" || true) >= computes )); then
            ready=true; break
        fi
        sleep 0.1
    done
    $ready || { cat "$log" >&2; die "clusterd did not report $workers workers and $computes compute processes ready within ${START_TIMEOUT}s"; }
    wait_http_200 "http://127.0.0.1:$PORT/" "$SERVER_PID" || { cat "$log" >&2; die "clusterd does not answer 200 on /"; }
}
