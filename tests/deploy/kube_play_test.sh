#!/usr/bin/env bash
# deploy/kubernetes/ under `podman kube play` with the image: the ConfigMap
# is mounted as the config file, the Deployment's pod runs as 10001 on a
# read-only root, serves, takes two workers from its 2-CPU limit, and on
# SIGTERM (what the kubelet sends) fails /readyz while still serving for the
# drain delay, then drains and exits 0 within terminationGracePeriodSeconds.
# The test's copy of the manifests names the test image, one replica,
# publishes the port on 127.0.0.1 only (hostIP/hostPort), and says
# restartPolicy: Never, so that the stopped container stays stopped (a
# Deployment's pods restart; the kubelet would replace the whole pod).
#   kube_play_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
export DEPLOY_DIR=$1/deploy
manifests=$(cd "$(dirname "$0")/../../deploy/kubernetes" && pwd)
podman_setup
podman image exists "$deploy_image" || skip "no image was built (see the image fixture's output)"
podman_can_run_trivial || skip "podman cannot run a trivial container (output above)"
command -v catatonit >/dev/null || skip "podman kube play needs catatonit for the pod's pause container (apt-get install catatonit)"

port=$(free_port)
play=$DEPLOY_DIR/kube-play.$$.yaml
pod=clusterd-pod-0
container=$pod-clusterd
cleanup() {
    podman kube down "$play" >/dev/null 2>&1 || true
    podman pod rm --force --time 0 "$pod" >/dev/null 2>&1 || true
    rm -f "$play"
}
trap cleanup EXIT
podman pod rm --force --time 0 "$pod" >/dev/null 2>&1 || true

{
    cat "$manifests/configmap.yaml"
    echo ---
    sed -e "s|image: localhost/clusterd:.*|image: $deploy_image|" -e 's|replicas: 3|replicas: 1|' \
        -e "s|^\( *\)containerPort: 8080|&\n\1hostIP: 127.0.0.1\n\1hostPort: $port|" \
        -e "s|^\( *\)terminationGracePeriodSeconds:.*|&\n\1restartPolicy: Never|" "$manifests/deployment.yaml"
} >"$play"
grep -q "hostPort: $port" "$play" && grep -q "restartPolicy: Never" "$play" || fail "could not edit the test's copy"
grace=$(awk '/terminationGracePeriodSeconds:/ {print $2}' "$manifests/deployment.yaml")
[ -n "$grace" ] || fail "the Deployment sets no terminationGracePeriodSeconds"

say "podman kube play (127.0.0.1:$port)"
# podman logs an error per probe without systemd to run its health-check timers; harmless here.
podman kube play "$play" 2>&1 | grep -v 'unable to get systemd connection' || true
podman container exists "$container" || fail "kube play made no container $container"
logs() { podman logs "$container" 2>&1; }
wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" || { logs; fail "the pod never became ready"; }

say "serves, configured from the ConfigMap, as 10001 on a read-only root"
[ "$(curl -sf "http://127.0.0.1:$port/")" = "hello from clusterd" ] || fail "GET / failed"
[ "$(curl -sf "http://127.0.0.1:$port/healthz")" = "ok" ] || fail "GET /healthz failed"
[ "$(podman inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$container")" = "10001 true" ] ||
    [ "$(podman inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$container")" = "10001:10001 true" ] ||
    fail "not user 10001 on a read-only root: $(podman inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$container")"
if [ "$(nproc)" -gt 2 ]; then
    grep -q '^clusterd_workers_configured 2$' <<<"$(curl -sf "http://127.0.0.1:$port/metrics")" ||
        fail "the 2-CPU limit did not give two workers"
fi

say "SIGTERM, as the kubelet sends it: /readyz fails while serving goes on, then the drain (grace period ${grace} s)"
start=$SECONDS
podman kill --signal TERM "$container" >/dev/null
log_has() { grep -q "$1" <<<"$(logs)"; }
wait_for 20 log_has 'drain delay: /readyz answers 503' ||
    { logs; fail "no drain delay after SIGTERM"; }
readyz=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
hello=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
draining=$(grep -c 'stopping: draining' <<<"$(logs)" || true)
if [ "$draining" -eq 0 ]; then
    [ "$readyz" = 503 ] || fail "/readyz answered $readyz during the drain delay, not 503"
    [ "$hello" = 200 ] || fail "GET / answered $hello during the drain delay, not 200"
else
    echo "the drain delay ran out before the checks; not judged"
fi
wait_for "$grace" sh -c "[ \"\$(podman inspect --format '{{.State.Running}}' $container)\" = false ]" ||
    { logs; fail "still running after the grace period of $grace s"; }
took=$((SECONDS - start))
code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
logs | tail -4
[ "$code" = 0 ] || fail "exited with $code, not 0"
log_has 'stopped: every worker has exited' || fail "no graceful stop in the log"
echo "PASSED: stopped ${took} s after SIGTERM (grace period ${grace} s)"
