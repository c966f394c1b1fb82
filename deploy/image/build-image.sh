#!/usr/bin/env bash
# Makes the OCI image from a root made by build-root.sh, with `podman
# import`: no base image, nothing pulled from a registry.
#
#   deploy/image/build-image.sh build/deploy/root.tar [localhost/clusterd:0.1.0]
#
# The image runs /usr/bin/clusterd as the unprivileged user clusterd
# (10001:10001, numeric so that Kubernetes' runAsNonRoot can check it),
# listening on 0.0.0.0:8080 (CLUSTERD_LISTEN, so arguments stay free for
# other options), logging to stdout (its log goes to stderr, joined to stdout
# by the entrypoint, which then execs clusterd: it is PID 1 and gets the stop
# signal itself), stopping gracefully on SIGTERM.
# Podman's own configuration applies (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF
# if set; the tests set both to a private setup under the build directory).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 ROOT.tar [IMAGE]" >&2
    exit 2
fi
root=$1
image=${2:-localhost/clusterd:0.1.0}
command -v podman >/dev/null || { echo "$0: podman is not installed (apt-get install podman)" >&2; exit 3; }

podman import \
    --change 'USER 10001:10001' \
    --change 'WORKDIR /' \
    --change 'ENV CLUSTERD_LISTEN=0.0.0.0:8080' \
    --change 'EXPOSE 8080/tcp' \
    --change 'STOPSIGNAL SIGTERM' \
    --change 'ENTRYPOINT ["/bin/sh", "-c", "exec /usr/bin/clusterd \"$@\" 2>&1", "clusterd"]' \
    --change 'CMD []' \
    --change 'LABEL org.opencontainers.image.title=clusterd' \
    --change 'LABEL org.opencontainers.image.description=multi-process HTTP supervisor' \
    --message "clusterd from $(basename "$root")" \
    "$root" "$image" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "$0: $image ($((size / 1024 / 1024)) MiB)"
