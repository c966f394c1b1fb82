#!/usr/bin/env bash
# Fixture cleanup: every container, pod and image of this build's private
# podman storage, then the storage itself.
#   image_cleanup.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
export DEPLOY_DIR=$1/deploy
[ -d "$DEPLOY_DIR/podman" ] || { echo "nothing to clean"; exit 0; }
podman_setup
podman pod rm --all --force --time 0 >/dev/null 2>&1 || true
podman rm --all --force --time 0 >/dev/null 2>&1 || true
podman rmi --all --force >/dev/null 2>&1 || true
left=$(podman ps --all --quiet 2>/dev/null | wc -l)
rm -rf "$DEPLOY_DIR/podman/storage" "$DEPLOY_DIR/podman/run" "$DEPLOY_DIR"/root.*/
[ "$left" -eq 0 ] || fail "$left containers were left"
echo "PASSED: private podman storage removed"
