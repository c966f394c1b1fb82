#!/usr/bin/env bash
# The package installed in a fresh minimal Debian 12 root (root_setup.sh:
# apt resolved its Depends from the archive): dpkg says it is installed, the
# binary runs --version there, and a short serve answers from inside the root
# (its own mount and pid namespaces: /proc, /dev, /dev/shm of its own; the
# host's loopback). Only the libraries the package depends on are there.
#   deb_root_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
build=$1
DEPLOY_DIR=$build/deploy
[ -f "$DEPLOY_DIR/root.tar" ] || skip "no root was built (see the root fixture's output)"
command -v unshare >/dev/null || skip "unshare is missing (util-linux)"

root=$(mktemp -d "$DEPLOY_DIR/root.XXXXXX")
server=""
cleanup() {
    if [ -n "$server" ]; then
        # unshare --kill-child takes the root's processes with it.
        for pid in $(pgrep -P "$server") "$server"; do kill -KILL "$pid" 2>/dev/null || true; done
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$root"
}
trap cleanup EXIT
tar -xf "$DEPLOY_DIR/root.tar" -C "$root"

# in_root COMMAND...: runs COMMAND in the root with its own /proc, /dev, /dev/shm.
in_root() {
    unshare --mount --pid --fork --kill-child -- sh -c '
        root=$1; shift
        mount -t proc proc "$root/proc"
        mount -t tmpfs -o mode=755 dev "$root/dev"
        for node in null zero full random urandom tty; do
            touch "$root/dev/$node" && mount --bind "/dev/$node" "$root/dev/$node"
        done
        mkdir -p "$root/dev/shm" && mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
        exec chroot "$root" "$@"' in_root "$root" "$@"
}

say "dpkg -s clusterd (in the root)"
status=$(in_root dpkg -s clusterd) || fail "dpkg -s clusterd failed in the root"
grep -E '^(Status|Version|Depends):' <<<"$status"
grep -q '^Status: install ok installed' <<<"$status" || fail "clusterd is not installed in the root"

say "clusterd --version (in the root)"
version=$(in_root /usr/bin/clusterd --version) || fail "clusterd --version failed in the root"
echo "$version"
[[ $version == clusterd\ * ]] || fail "unexpected --version output: $version"

say "a short serve (in the root)"
port=$(free_port)
log=$DEPLOY_DIR/deb_root_serve.log
in_root /usr/bin/clusterd --listen "127.0.0.1:$port" --workers 2 --user clusterd >"$log" 2>&1 &
server=$!
wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" || { cat "$log"; fail "no ready answer from the root"; }
body=$(curl -sf "http://127.0.0.1:$port/") || fail "GET / failed"
[ "$body" = "hello from clusterd" ] || fail "GET / answered: $body"
grep -q '"result":6765' <<<"$(curl -sf "http://127.0.0.1:$port/compute/fib?n=20")" || fail "/compute/fib failed"
grep -q '^clusterd_workers_ready 2$' <<<"$(curl -sf "http://127.0.0.1:$port/metrics")" || fail "/metrics lacks 2 workers ready"
# unshare(1) forwards no signal: TERM the supervisor itself (the one
# without --role; sh and chroot exec'ed into it).
supervisor=$(pgrep -f -x "/usr/bin/clusterd --listen 127.0.0.1:$port --workers 2 --user clusterd" || true)
[ "$(echo "$supervisor" | wc -w)" -eq 1 ] || fail "not one supervisor: '$supervisor'"
kill -TERM "$supervisor"
wait_for 20 sh -c "! kill -0 $server 2>/dev/null" || fail "the supervisor did not stop on SIGTERM"
wait "$server" || true
server=""
grep -q "stopped: every worker has exited" "$log" || { cat "$log"; fail "no graceful stop in the log"; }
cat "$log"
echo "PASSED"
