#!/usr/bin/env bash
# The image under podman: serves on 0.0.0.0:8080 by default as the
# unprivileged user 10001, logs to stdout, takes its worker count from the
# container's CPU quota (--cpus 1 on a machine with more: one worker),
# reloads on SIGHUP without failing a request, and stops gracefully on
# SIGTERM (`podman stop`) with exit code 0 well within its stop timeout.
#   container_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
export DEPLOY_DIR=$1/deploy
podman_setup
podman image exists "$deploy_image" || skip "no image was built (see the image fixture's output)"
podman_can_run_trivial || skip "podman cannot run a trivial container (output above)"

name=clusterd-test-$$
port=$(free_port)
cleanup() { podman rm --force --time 0 "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

say "podman run $deploy_image (published on 127.0.0.1:$port, --cpus 1)"
podman run --detach --name "$name" --publish "127.0.0.1:$port:8080" --cpus 1 --stop-timeout 30 \
    "$deploy_image" --shutdown-timeout 5s >/dev/null
logs() { podman logs "$name" 2>&1; }
wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" || { logs; fail "the container never became ready"; }

say "serves"
[ "$(curl -sf "http://127.0.0.1:$port/")" = "hello from clusterd" ] || fail "GET / failed"
grep -q '"result":75025' <<<"$(curl -sf "http://127.0.0.1:$port/compute/fib?n=25")" || fail "/compute/fib failed"
metrics=$(curl -sf "http://127.0.0.1:$port/metrics")

say "listens on 0.0.0.0:8080 by default, logs on stdout"
# stdout alone (podman logs keeps the streams apart in its k8s-file log).
grep -q 'listening on 0.0.0.0:8080' <<<"$(podman logs "$name" 2>/dev/null)" || { logs; fail "no 'listening on 0.0.0.0:8080' on stdout"; }

say "runs as the unprivileged user, every process"
pid=$(podman inspect --format '{{.State.Pid}}' "$name")
for process in $pid $(pgrep -P "$pid"); do
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$process/status")
    [ "$uid" = 10001 ] || fail "process $process runs as uid $uid, not 10001"
done

say "CPU quota: one worker under --cpus 1 (this machine has $(nproc) CPUs)"
if [ "$(nproc)" -gt 1 ]; then
    grep -q '^clusterd_workers_configured 1$' <<<"$metrics" || {
        grep workers_configured <<<"$metrics"; fail "--cpus 1 did not give one worker"; }
fi

say "reload on SIGHUP"
podman kill --signal HUP "$name" >/dev/null
log_has() { grep -q "$1" <<<"$(logs)"; }
wait_for 30 log_has 'reload complete' || { logs; fail "no reload complete"; }
[ "$(curl -sf "http://127.0.0.1:$port/")" = "hello from clusterd" ] || fail "GET / failed after the reload"

say "podman stop: SIGTERM, drain, exit 0"
start=$SECONDS
podman stop --time 30 "$name" >/dev/null
took=$((SECONDS - start))
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
logs | tail -5
[ "$code" = 0 ] || fail "the container exited with $code, not 0"
log_has 'stopped: every worker has exited' || fail "no graceful stop in the log"
# The one timing asserted: the stop ends well before podman's SIGKILL at 30 s
# (--shutdown-timeout is 5 s).
[ "$took" -lt 25 ] || fail "the stop took $took s"
echo "PASSED: stopped in about $took s"
