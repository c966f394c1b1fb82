# Shared by the deploy tests (sourced). Each test is a bash script that exits
# 0 (passed), 77 (skipped, with the reason on stdout) or anything else
# (failed), stops what it starts by its pid or name, and leaves no
# container, pod or file outside the build directory behind.
set -euo pipefail

# skip REASON: the test cannot run here at all (a tool is missing, or the
# tool itself cannot do the trivial thing); clusterd failing is never a skip.
skip() {
    echo "SKIPPED: $*"
    exit 77
}

fail() {
    echo "FAILED: $*" >&2
    exit 1
}

say() { echo "--- $*"; }

# A free loopback TCP port (bound by the kernel, then released).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for TIMEOUT_SECONDS COMMAND...: retries COMMAND every 0.2 s.
wait_for() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

# Podman with this build's own configuration: runc, cgroupfs, no default
# ulimits, storage (vfs) under the build directory; nothing of the system's
# configuration is read or changed (CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF replace the system files, they do not add to them).
# DEPLOY_DIR must be set (build/deploy).
podman_setup() {
    command -v podman >/dev/null || skip "podman is not installed (apt-get install podman runc)"
    DEPLOY_DIR=$(realpath -m "$DEPLOY_DIR")
    local dir=$DEPLOY_DIR/podman
    mkdir -p "$dir"
    cat > "$dir/containers.conf" <<CONF
[containers]
default_ulimits = []
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
# Locks in files under the storage, not /dev/shm/libpod_lock: the suite leaves nothing in /dev/shm.
lock_type = "file"
CONF
    cat > "$dir/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$dir/storage"
runroot = "$dir/run"
CONF
    export CONTAINERS_CONF=$dir/containers.conf
    export CONTAINERS_STORAGE_CONF=$dir/storage.conf
}

# The image the image fixture built (tests/deploy/image_setup.sh).
deploy_image=localhost/clusterd-test:latest

# Whether podman can run a trivial container from that image at all: a skip
# only when it cannot (no container runtime here, no privileges, ...).
podman_can_run_trivial() {
    local out
    if ! out=$(timeout 60 podman run --rm --network none --user 0 --entrypoint /bin/true "$deploy_image" 2>&1); then
        echo "podman cannot run a trivial container here: $out"
        return 1
    fi
}
