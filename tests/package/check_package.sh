#!/bin/sh
# The installed package as a user meets it: `cmake --install` into a fresh
# prefix, then (1) a separate CMake project with find_package(clusterd) and
# (2) one file compiled with `pkg-config --cflags --libs clusterd`; each
# binary is run under every executor and must answer its own route and task.
#
#   check_package.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
source=$2
work=$(mktemp -d /tmp/clusterd-package.XXXXXX)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*" >&2; [ -f "$work/log" ] && cat "$work/log" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >/dev/null
for header in app.hpp http.hpp reply.hpp task.hpp; do
    [ -f "$work/prefix/include/clusterd/$header" ] || fail "include/clusterd/$header not installed"
done
# Nothing internal is installed beside the public headers.
[ "$(ls "$work/prefix/include/clusterd" | wc -l)" -eq 4 ] || fail "unexpected headers: $(ls "$work/prefix/include/clusterd")"

cmake -S "$source/tests/package/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || fail "configuring against find_package(clusterd)"
cmake --build "$work/consumer" >/dev/null || fail "building against find_package(clusterd)"

PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --exists clusterd || fail "pkg-config does not find clusterd"
# shellcheck disable=SC2046 # the flags are words on purpose
c++ -std=c++20 -o "$work/one-file" "$source/tests/package/consumer/main.cpp" \
    $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs clusterd) || fail "pkg-config build"

# The example service, standalone, against the same prefix.
cmake -S "$source/examples/similarity" -B "$work/similarity" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || fail "configuring examples/similarity against the prefix"
cmake --build "$work/similarity" --target similarity >/dev/null || fail "building examples/similarity against the prefix"

# Starts BINARY with --compute MODE on a free port; sets pid and port.
start_app() {
    binary=$1 mode=$2
    as_root=""
    [ "$(id -u)" = 0 ] && as_root=--allow-root
    # Its own control socket: another instance on this machine may hold the default one.
    "$binary" $as_root --listen 127.0.0.1:0 --control-socket "$work/control.sock" --workers 1 --compute "$mode" \
        --compute-threads 1 --compute-processes 1 >"$work/log" 2>&1 &
    pid=$!
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
        grep -q "all 1 workers ready" "$work/log" && [ -n "$port" ] && break
        sleep 0.1
    done
    grep -q "all 1 workers ready" "$work/log" || fail "$binary ($mode) did not become ready"
}

stop_app() {
    kill -TERM "$pid"
    wait "$pid" || fail "$binary ($mode) did not stop cleanly"
    pid=""
}

# Runs BINARY with --compute MODE and checks both of its routes.
check_app() {
    start_app "$1" "$2"
    greeting=$(curl -sS --max-time 10 "http://127.0.0.1:$port/greet/package") || fail "$binary ($mode): GET /greet failed"
    [ "$greeting" = "hello, package" ] || fail "$binary ($mode): /greet answered '$greeting'"
    upper=$(curl -sS --max-time 10 --data-binary "make me loud" "http://127.0.0.1:$port/upper") ||
        fail "$binary ($mode): POST /upper failed"
    [ "$upper" = "MAKE ME LOUD" ] || fail "$binary ($mode): /upper answered '$upper'"
    stop_app
    echo "ok: $(basename "$binary") under --compute $mode"
}

for mode in inline threads processes; do
    check_app "$work/consumer/consumer" "$mode"
    check_app "$work/one-file" "$mode"
done

start_app "$work/similarity/similarity" processes
ranked=$(curl -sS --max-time 10 --data-binary \
    '{"query": "worker crashed", "documents": ["pasta in water", {"id": "w", "text": "the worker crashed"}]}' \
    "http://127.0.0.1:$port/similarity")
case "$ranked" in
    '{"results":[{"id":"w","index":1,'*) echo "ok: examples/similarity built against the prefix ranks under processes" ;;
    *) fail "examples/similarity answered '$ranked'" ;;
esac
stop_app
